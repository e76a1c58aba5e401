"""How long an app write waits while the similarity job replaces a method's neighbours in SQLite.

Replaces ``--rows`` neighbour rows (synthetic: 20 neighbours per track, sorted by key as
``engine.similarity.run`` passes them) twice, while a thread writes a like every 20 ms the way
the app does (``Store.set_feedback``, its own connection each time):

- *one transaction*: schema 1's ``replace_similar`` (DELETE + INSERT of every row into one
  table holding all methods, with its score index), rebuilt here for the comparison;
- *chunked swap*: :meth:`engine.state.store.Store.replace_similar` (chunks into a staging table,
  swapped in by a rename).

Prints the bulk write's time and the longest and median wait of the app writes during it: a
measurement, not a pass/fail. Run from the repository root: ``python bench/store_writes.py``.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.state.store import Store  # noqa: E402

V1_TABLE = """CREATE TABLE IF NOT EXISTS v1_similar (track_id TEXT NOT NULL, other_id TEXT NOT NULL,
score REAL NOT NULL, method TEXT NOT NULL, PRIMARY KEY (track_id, method, other_id));
CREATE INDEX IF NOT EXISTS v1_by_score ON v1_similar (track_id, method, score DESC);"""


def neighbour_rows(n: int, seed: int = 7) -> list[tuple[str, str, float]]:
    """``n`` rows, 20 per track, sorted by (track_id, other_id)."""
    rng = random.Random(seed)
    tracks = [f"{rng.getrandbits(88):022x}" for _ in range(max(1, n // 20))]
    return sorted((t, f"{rng.getrandbits(88):022x}", rng.random()) for t in tracks for _ in range(20))[:n]


def v1_replace(path: Path, rows: list[tuple[str, str, float]]) -> None:
    """Schema 1's replace: every row in one transaction."""
    con = sqlite3.connect(path, timeout=60)
    try:
        con.executescript(V1_TABLE)
        with con:
            con.execute("DELETE FROM v1_similar WHERE method = 'minhash'")
            con.executemany("INSERT OR REPLACE INTO v1_similar VALUES (?, ?, ?, 'minhash')", rows)
    finally:
        con.close()


def measure(store: Store, bulk: Callable[[], None]) -> tuple[float, list[float]]:
    """(seconds the bulk write took, waits of the app writes made meanwhile)."""
    waits: list[float] = []
    done = threading.Event()

    def app() -> None:
        app_store = Store(store.path)
        app_store.busy_timeout_s = 120.0  # measure the wait, never give up
        i = 0
        while not done.is_set():
            start = time.perf_counter()
            app_store.set_feedback("bench", target="track", target_id=f"t{i % 50}", value=1)
            waits.append(time.perf_counter() - start)
            i += 1
            time.sleep(0.02)

    thread = threading.Thread(target=app)
    thread.start()
    time.sleep(0.2)
    start = time.perf_counter()
    bulk()
    took = time.perf_counter() - start
    done.set()
    thread.join()
    return took, waits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="neighbour rows to replace (default 1,000,000)")
    args = parser.parse_args()
    rows = neighbour_rows(args.rows)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "app.sqlite")
        for name, bulk in (
            ("one transaction", lambda: v1_replace(store.path, rows)),
            ("chunked swap", lambda: store.replace_similar(rows, method="minhash")),
        ):
            took, waits = measure(store, bulk)
            print(f"{name:>16}: {len(rows):,} rows in {took:.1f} s; {len(waits)} app writes meanwhile, "
                  f"longest wait {max(waits):.2f} s, median {statistics.median(waits) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
