"""``python -m engine refresh [--every 6h]``: retrain on new listening, publish only if not worse.

One round (:func:`refresh_once`)::

    lock models/.refresh.lock (held by a live refresher -> the round is skipped, exit 75;
                               left by a crashed one -> taken over)
    -> catch up on the events dir (engine.streaming.stream, unless a running `engine stream` does it)
    -> every track-level interactions dataset under data/parquet, each row with its arrival time
       (the modification time of the file that holds it)
    -> new = arrived after the serving model's watermark (``data.arrival_watermark_us`` in its
       manifest; its ``created_at`` for a bundle made elsewhere)
    -> nothing new: skipped.  Too few listeners with new tracks to judge: skipped (the new data
       waits for the next round).  No serving model: train and publish.
    -> holdout of new pairs + candidate trained on the rest (engine.refresh.gate, engine.training.run)
    -> gate: NDCG@10 and recall@50 of candidate vs serving model on that holdout
    -> publish atomically (engine.bundle.publish.publish_bundle, which prunes to KEEP_VERSIONS) or keep
    -> append the round to models/refresh_log.jsonl (the app's Model page reads it)

Arrival is the file's modification time, so a dataset rewritten in place (``ingest-interactions``
run again) counts as new as a whole; its pairs the serving model already knew then enter the
holdout and favour the serving model — the gate errs towards keeping it. Append new files instead.

``--every`` repeats rounds until stopped (SIGTERM/Ctrl-C end the wait at once); a failing
round is logged and the loop goes on. ``--force`` publishes whatever the gate says (recorded).
The app serves the version in ``models/CURRENT`` and picks a new one up without a restart.

The log's format and reader live in :mod:`engine.state.refresh_log` (standard library only: the app
reads it). This module imports no pyspark at import time.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from typing import TYPE_CHECKING, Callable

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
