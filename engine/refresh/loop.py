"""Repeating refresh rounds (``python -m engine refresh --every 6h``), and parsing the interval.

:func:`run_loop` runs a round (:func:`engine.refresh.round.refresh_once`) every ``every_s``
seconds, counted from the start of each round, until its ``stop`` event is set (the command
sets it on SIGTERM; Ctrl-C ends it too); the wait ends at once when it is. A failing round is
reported (it logged itself) and the loop goes on; ``on_error`` lets the caller drop a Spark
session that may be broken. :func:`parse_duration` reads ``90s``, ``15m``, ``6h``, ``1d`` or
plain seconds. Standard library only.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from engine.core.errors import InputError, one_line
from engine.state.refresh_log import RefreshRecord

if TYPE_CHECKING:  # pragma: no cover

    pass

logger = logging.getLogger(__name__)


# -- the loop ------------------------------------------------------------------------------------


def parse_duration(text: str) -> float:
    """``"90s"``, ``"15m"``, ``"6h"``, ``"1d"`` or plain seconds -> seconds (> 0)."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([smhd]?)\s*", str(text))
    if not m or float(m.group(1)) <= 0:
        raise InputError(f"duration {text!r}: expected a positive duration like 90s, 15m, 6h or 1d")
    return float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]


def run_loop(
    round_fn: Callable[[], RefreshRecord],
    *,
    every_s: float,
    stop: threading.Event,
    on_error: Callable[[BaseException], None] | None = None,
    max_rounds: int | None = None,
) -> int:
    """Run ``round_fn`` every ``every_s`` seconds until ``stop`` is set; return the rounds run.

    A round that raises is reported (the round logged itself) and the loop goes on; the wait
    between rounds ends as soon as ``stop`` is set.
    """
    rounds = 0
    while not stop.is_set():
        began = time.monotonic()
        rounds += 1
        try:
            round_fn()
        except Exception as exc:  # the loop must outlive a bad round (bad input, a Spark crash...)
            logger.warning(f"[refresh] round {rounds} failed: {one_line(exc)}")
            if on_error is not None:
                on_error(exc)
        if max_rounds is not None and rounds >= max_rounds:
            break
        wait = max(0.0, every_s - (time.monotonic() - began))
        logger.info(f"[refresh] next round in {wait:.0f}s")
        if stop.wait(wait):
            break
    return rounds
