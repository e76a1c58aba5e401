"""engine.core.blas: OpenBLAS's idle helpers are told to sleep, before numpy loads."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

from engine.core.blas import THREAD_TIMEOUT, THREAD_TIMEOUT_VAR

ROOT = Path(__file__).resolve().parents[2]
PROBE = (
    "import os; from engine.core.blas import quiet_blas_helpers as q; first = q(); import numpy; "
    f"print(first, q(), os.environ[{THREAD_TIMEOUT_VAR!r}])"
)


def _probe(**env: str) -> str:
    base = {k: v for k, v in os.environ.items() if k != THREAD_TIMEOUT_VAR}
    run = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env={**base, **env},
                         capture_output=True, text=True, check=True)
    return run.stdout.strip()


def test_the_timeout_is_set_and_the_call_says_whether_it_came_in_time() -> None:
    assert _probe() == f"True False {THREAD_TIMEOUT}"


def test_a_value_in_the_environment_is_kept() -> None:
    assert _probe(**{THREAD_TIMEOUT_VAR: "28"}) == "True False 28"


def test_the_app_sets_it_before_any_import() -> None:
    """app.py's first statements: the import of the setting and its call (every other import
    after them), so no module of the app can load numpy first."""
    body = [node for node in ast.parse((ROOT / "app.py").read_text()).body
            if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))]
    first, call = body[0], body[1]
    assert isinstance(first, ast.ImportFrom) and first.module == "engine.core.blas"
    assert isinstance(call, ast.Expr) and isinstance(call.value, ast.Call)
    assert getattr(call.value.func, "id", None) == "quiet_blas_helpers"


def test_one_blas_thread_nests_and_is_per_thread() -> None:
    """Inside a limit a nested one changes nothing; the outer one restores the count; another
    thread meanwhile takes its own limit (the count is process-wide, the nesting per thread)."""
    import contextlib
    import threading

    import pytest

    from engine.serving import foldin

    if foldin._BLAS is None or not foldin._BLAS.lib_controllers:
        pytest.skip("no BLAS library threadpoolctl can control")
    lib = foldin._BLAS.lib_controllers[0]
    base = lib.get_num_threads()
    if base < 2:
        pytest.skip("BLAS runs on one thread here: nothing to limit")
    seen: list[int] = []

    def other() -> None:
        assert not isinstance(foldin.one_blas_thread(), contextlib.nullcontext)
        with foldin.one_blas_thread():
            seen.append(lib.get_num_threads())
            assert getattr(foldin._LIMITED, "inside", False)

    with foldin.one_blas_thread():
        assert lib.get_num_threads() == 1
        assert isinstance(foldin.one_blas_thread(), contextlib.nullcontext)  # nested: no second limit
        with foldin.one_blas_thread():
            assert lib.get_num_threads() == 1
        assert lib.get_num_threads() == 1  # the nested exit restored nothing
        worker = threading.Thread(target=other)
        worker.start()
        worker.join()
    assert seen == [1]  # not a no-op there: that thread was not inside a limit
    assert not getattr(foldin._LIMITED, "inside", False)
    assert lib.get_num_threads() == base  # the other thread restored 1, the outer exit the rest
