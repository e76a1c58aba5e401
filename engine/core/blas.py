"""OpenBLAS's idle behaviour in a serving process, set before numpy loads OpenBLAS.

After each threaded call, OpenBLAS's helper threads busy-wait for new work for 2^28 clock
ticks (~0.1 s, its default ``OPENBLAS_THREAD_TIMEOUT`` of 28) before they sleep. On a small
machine that spinning takes a core from whatever runs next: the int8 pass split over two cores
(engine.serving.quantized) ran at 3.98 ms right after a threaded ``Y @ x`` against 2.26 ms
with the helpers sleeping at once, and the bare float32 pass itself was no slower (7.93 vs
7.81 ms; 600k × 64, a ``bench/serve.py`` bundle, one run of a one-off script; the README
has the bench's numbers). OpenBLAS reads the variable once, when the library loads, so the app
calls :func:`quiet_blas_helpers` before anything imports numpy, and ``bench/serve.py`` sets it
for the processes it measures.

No numpy here: importing this module must not load OpenBLAS.
"""

from __future__ import annotations

import os
import sys

#: The variable and the value serving uses: 4 is OpenBLAS's smallest (2^4 ticks), so idle
#: helpers sleep on a condition variable almost at once; waking them costs one signal per call.
THREAD_TIMEOUT_VAR, THREAD_TIMEOUT = "OPENBLAS_THREAD_TIMEOUT", "4"


def quiet_blas_helpers() -> bool:
    """Let OpenBLAS's idle helper threads sleep at once rather than spin (sets
    ``OPENBLAS_THREAD_TIMEOUT`` unless the environment already has it).

    Returns
    -------
    bool
        False when numpy is already loaded: OpenBLAS has read its settings, and this changes
        nothing in this process (only in the processes it starts).
    """
    os.environ.setdefault(THREAD_TIMEOUT_VAR, THREAD_TIMEOUT)
    return "numpy" not in sys.modules
