"""Progress lines for long pipeline stages: ``[prefix] stage: detail (elapsed)``.

:class:`Progress` prints one line per stage with the time since the start and records each
stage's duration in ``timings`` (training runs and refresh rounds store them in their reports).
Standard library only.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol


class SparkLike(Protocol):
    """What :meth:`Progress.working` needs of a SparkSession (core never imports pyspark)."""

    @property
    def sparkContext(self) -> Any: ...  # noqa: N802 (pyspark's name)


class Progress:
    """Logs ``[<prefix>] stage: detail (elapsed)`` lines and records stage timings.

    Lines go at INFO to the logger ``engine.<prefix>`` (``engine.train``, ``engine.refresh``...);
    ``python -m engine`` shows them on stdout (:func:`log_to_stdout`). ``timings`` maps each
    stage to the seconds since the previous one. :meth:`working` adds a line every
    ``heartbeat_s`` seconds while Spark runs a long stage, with the task counts of the active
    Spark stages.
    """

    def __init__(self, prefix: str = "train", *, heartbeat_s: float = 30.0) -> None:
        self.prefix = prefix
        self.heartbeat_s = heartbeat_s
        self.logger = logging.getLogger(f"engine.{prefix}")
        self.start = self.last = time.perf_counter()
        self.timings: dict[str, float] = {}

    @property
    def elapsed(self) -> float:
        """Seconds since this object was created."""
        return time.perf_counter() - self.start

    def __call__(self, stage: str, detail: str = "") -> None:
        """Record the time since the previous stage under ``stage`` and log the line."""
        now = time.perf_counter()
        self.timings[stage] = round(now - self.last, 3)
        self.last = now
        self._log(f"{stage}: {detail}" if detail else stage)

    def _log(self, text: str) -> None:
        self.logger.info("[%s] %s (%.1fs)", self.prefix, text, self.elapsed)

    @contextmanager
    def working(self, spark: SparkLike, what: str) -> Iterator[None]:
        """Log Spark's progress on ``what`` every ``heartbeat_s`` seconds until the block ends
        (heartbeat lines record no timing)."""
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(self.heartbeat_s):
                tracker = spark.sparkContext.statusTracker()
                stages = [s for s in map(tracker.getStageInfo, tracker.getActiveStageIds()) if s is not None]
                done = sum(s.numCompletedTasks for s in stages)
                total = sum(s.numTasks for s in stages)
                self._log(f"{what}: still running, {done}/{total} tasks of {len(stages)} active Spark stage(s) done")

        thread = threading.Thread(target=beat, name=f"{self.prefix}-progress", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()


class _StdoutHandler(logging.StreamHandler):
    """A handler writing to whatever ``sys.stdout`` is when a record is emitted (so a replaced
    stdout, as under pytest's capture, is honoured)."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stdout  # not setStream(): that flushes the old one, maybe closed by now
        super().emit(record)


def log_to_stdout(level: int = logging.INFO) -> logging.Handler:
    """Show the engine's log records (logger ``engine``, ``level`` and up) on stdout as bare
    messages, as the CLI's progress lines. Installing it again adds no second handler."""
    engine_logger = logging.getLogger("engine")
    for handler in engine_logger.handlers:
        if isinstance(handler, _StdoutHandler):
            break
    else:
        handler = _StdoutHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        engine_logger.addHandler(handler)
    engine_logger.setLevel(level)
    return handler
