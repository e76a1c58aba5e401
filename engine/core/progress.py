"""Progress lines for long pipeline stages: ``[prefix] stage: detail (elapsed)``.

:class:`Progress` prints one line per stage with the time since the start and records each
stage's duration in ``timings`` (training runs and refresh rounds store them in their reports).
Standard library only.
"""

from __future__ import annotations

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
