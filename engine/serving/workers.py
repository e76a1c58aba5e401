"""The helper threads of a request: work that runs beside the caller, on a core it leaves idle.

Serving is single-threaded Python around numpy, scipy and numba calls that release the GIL, on
a machine of a few cores. Parts of a request that need nothing of each other run on a second
core: the int8 pass, split into one slice of rows per core (:mod:`engine.serving.quantized`);
the new list's artist scores, beside the fold-in; the familiar list, beside the new one
(:func:`engine.serving.lists.choose_lists`), on catalogues large enough for it to pay
(:data:`PARALLEL_FROM`). Reading the blend's neighbour rows beside the float32 pass gained
nothing (BLAS runs that pass on every core; README, Scaling).

The helpers are one process-wide pool (created on first use) of one thread per core beyond the
first, at most :data:`MAX_HELPERS`; with one core, work runs in the caller. A task never waits
for another task, so requests sharing the pool can only queue, never deadlock.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

#: At most this many helper threads (serving reads memory: more threads than cores only queue).
MAX_HELPERS = 3
#: From this many catalogue items on, a request's lists and artist scores run beside each
#: other (a Recommender reads it when built). Below it the hand-offs and the two threads' turns
#: at the GIL cost more than the second core saves. The default request, alternating the two ways in one
#: process (bench/serve.py bundles, rank 64, p50 of 300; one-off script), took on the helper /
#: in the caller 13.9 / 12.6 ms at 30k items, 16.8 / 16.5 at 100k, 23.7 / 25.7 at 300k, 27.0 /
#: 30.3 at 600k and 7.7 / 6.7 ms on the 10k-track demo bundle; a second run 14.1 / 13.4, 15.1 /
#: 14.5, 19.8 / 20.6, 33.1 / 40.3 and 9.2 / 8.7 ms. The same lists every time.
PARALLEL_FROM = 150_000


def cores(cpu_max: Path = Path("/sys/fs/cgroup/cpu.max")) -> int:
    """CPU cores this process may run on: the CPUs it may be scheduled on, fewer when its
    cgroup (v2) has a CPU quota (a container of 2 CPUs on a large host sees the host's CPUs)."""
    found = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        quota, period = cpu_max.read_text().split()[:2]
        if quota != "max" and int(period) > 0:
            found = min(found, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError):  # no cgroup v2 file, or not the format above
        pass
    return max(1, found)


#: Helper threads of the pool: one per core beyond the caller's.
HELPERS = min(MAX_HELPERS, cores() - 1)


@functools.cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=max(1, HELPERS), thread_name_prefix="serving-helper")


def beside(fn: Callable[..., T], *args: Any, **kwargs: Any) -> Future[T]:
    """Start ``fn(*args, **kwargs)`` on a helper thread and return its future (``result()``
    re-raises what it raised); without helpers (one core) it runs now, in the caller."""
    if HELPERS < 1:
        return inline(fn, *args, **kwargs)
    return _pool().submit(fn, *args, **kwargs)


def inline(fn: Callable[..., T], *args: Any, **kwargs: Any) -> Future[T]:
    """Run ``fn(*args, **kwargs)`` now, in the caller, as a done future (what :func:`beside`
    returns; ``result()`` re-raises what it raised)."""
    done: Future[T] = Future()
    try:
        done.set_result(fn(*args, **kwargs))
    except BaseException as exc:  # noqa: BLE001 - handed to the caller by result()
        done.set_exception(exc)
    return done

