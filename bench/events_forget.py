"""How long "Forget me" takes over the events directory, before and after compaction.

Writes ``--files`` events files the way the app does (one per click, two events each, for
``--listeners`` listeners), then times :func:`engine.state.events.forget_user` of one listener
over the one-file-per-click directory and again after :func:`engine.state.events.compact_events`
merged the files. Prints both times and the file counts: a measurement, not a pass/fail. Run
from the repository root: ``python bench/events_forget.py``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.state.events import ListeningEvent, compact_events, forget_user, write_events  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=5000, help="events files, one per click (default 5,000)")
    parser.add_argument("--listeners", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        events_dir = Path(tmp) / "events"
        for i in range(args.files):
            user = f"sp:{i % args.listeners:032x}"
            # younger than COMPACT_MIN_AGE_S: the writes themselves do not compact here
            write_events(events_dir, [ListeningEvent.new(user, f"t{i}", "play"), ListeningEvent.new(user, f"t{i}", "like")])
        times = {}
        for label, victim in (("one file per click", 1), ("compacted", 2)):
            if label == "compacted":
                merged = compact_events(events_dir, after_files=1, min_age_s=0)
                print(f"compaction merged {merged:,} files")
            n_files = len(list(events_dir.glob("*.jsonl")))
            start = time.perf_counter()
            removed = forget_user(events_dir, f"sp:{victim:032x}")
            times[label] = time.perf_counter() - start
            print(f"{label:>18}: {n_files:,} files, forgot {removed} lines in {times[label] * 1000:.0f} ms")
        print(f"ratio: {times['one file per click'] / times['compacted']:.1f}x faster after compaction")


if __name__ == "__main__":
    main()
