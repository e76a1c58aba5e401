"""Training on Spark: implicit-feedback ALS and the audio-feature KMeans clusterer.

Data flow::

    interactions parquet (user_id, track_id, weight, source, ts)
      -> sum weights per (user, item) -> StringIndexer ids -> confidence transform (engine.core.weights)
      -> ALS(implicitPrefs=True) -> user/item factors
    tracks parquet (canonical catalogue)
      -> VectorAssembler -> StandardScaler -> KMeans(k), PCA(2) for the cluster map
    both -> items table (catalogue ∪ played tracks) -> engine.bundle.publish.publish_bundle

Each stage prints a progress line with counts and elapsed time. Integer ids are assigned once
per run by ``StringIndexer`` (never hashed: collisions) and the id lists go into the bundle.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:  # pragma: no cover

    pass


class Progress:
    """Prints ``[train] stage: detail (elapsed)`` lines and records stage timings."""

    def __init__(self, prefix: str = "train", echo: Callable[[str], None] = print) -> None:
        self.prefix, self.echo = prefix, echo
        self.start = self.last = time.perf_counter()
        self.timings: dict[str, float] = {}

    def __call__(self, stage: str, detail: str = "") -> None:
        now = time.perf_counter()
        self.timings[stage] = round(now - self.last, 3)
        self.last = now
        self.echo(f"[{self.prefix}] {stage}: {detail} ({now - self.start:.1f}s)".replace(":  (", " ("))


class _StdoutHandler(logging.StreamHandler):
    """A handler writing to whatever ``sys.stdout`` is when a record is emitted (so a replaced
    stdout, as under pytest's capture, is honoured)."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    @property
    def stream(self):  # type: ignore[override]
        return sys.stdout

    @stream.setter
    def stream(self, value) -> None:
        pass


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
