"""The fuzz suite: every test in this folder, its generated inputs counted per file.

Each ``@given`` test (hypothesis) is counted automatically: the autouse fixture wraps its
``.hypothesis.inner_test`` (hypothesis' documented hook for running the test body) so every
example it runs adds one to its file. A test that generates inputs itself (a seeded loop)
reports them with the ``count_inputs`` fixture. The terminal summary prints the count per
file and in total; with ``FUZZ_MIN_INPUTS`` set (``make fuzz`` sets 10000) a run that tried
fewer fails.

Profiles (``HYPOTHESIS_PROFILE``): ``fuzz`` (the default) derandomizes (each test draws the
same inputs on every run, so CI cannot flake) and keeps no example database; ``fuzz-random``
draws new inputs each run, to explore. Neither has a deadline or the speed health checks: no
wall-clock threshold decides a test here.
"""

from __future__ import annotations

import functools
import os
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

HERE = Path(__file__).resolve().parent
_QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example]
settings.register_profile("fuzz", deadline=None, derandomize=True, database=None, suppress_health_check=_QUIET)
settings.register_profile("fuzz-random", deadline=None, database=None, suppress_health_check=_QUIET)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fuzz"))

INPUTS: Counter[str] = Counter()
"""Inputs tried per test file (relative to the repository) in this run."""


def _file_of(request: pytest.FixtureRequest) -> str:
    return str(Path(str(request.node.path)).resolve().relative_to(HERE.parent.parent))


@pytest.fixture(autouse=True)
def _count_hypothesis_examples(request: pytest.FixtureRequest) -> Iterator[None]:
    handle = getattr(request.function, "hypothesis", None)
    if handle is not None and not getattr(handle.inner_test, "_fuzz_counted", False):
        inner, name = handle.inner_test, _file_of(request)

        @functools.wraps(inner)
        def counted(*args: Any, **kwargs: Any) -> Any:
            INPUTS[name] += 1
            return inner(*args, **kwargs)

        counted._fuzz_counted = True  # type: ignore[attr-defined]
        handle.inner_test = counted
    yield


@pytest.fixture()
def count_inputs(request: pytest.FixtureRequest) -> Callable[[int], None]:
    """``count_inputs(n)``: add ``n`` inputs a test generated itself to its file's count."""
    name = _file_of(request)

    def add(n: int) -> None:
        INPUTS[name] += n

    return add


def _shortfall() -> str | None:
    """Why this run tried too few inputs (``FUZZ_MIN_INPUTS``), or None."""
    wanted, total = int(os.environ.get("FUZZ_MIN_INPUTS", "0")), sum(INPUTS.values())
    return f"{total:,} inputs tried, fewer than FUZZ_MIN_INPUTS={wanted:,}" if total < wanted else None


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail a run that tried fewer inputs than ``FUZZ_MIN_INPUTS``."""
    if exitstatus == 0 and _shortfall():
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the inputs tried, per file and in total (and a shortfall)."""
    if not INPUTS:
        return
    terminalreporter.section("fuzz inputs")
    for name, n in sorted(INPUTS.items()):
        terminalreporter.write_line(f"{n:>9,}  {name}")
    terminalreporter.write_line(f"{sum(INPUTS.values()):>9,}  in total")
    if shortfall := _shortfall():
        terminalreporter.write_line(f"fuzz: {shortfall}", red=True)
