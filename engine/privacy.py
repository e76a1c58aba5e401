""""Forget me" on the engine side: drop forgotten listeners' rows before any training.

The app's Forget me deletes a listener's SQLite rows and their not-yet-ingested event lines,
and leaves a tombstone (``forgotten`` table, the salted key only). Events the stream or an
ingest already copied into ``data/parquet`` are filtered out here, so no model trained after
the request learns from them. (Bundles hold item factors only, never listener factors, so a
refresh is all it takes for the model to stop carrying them.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.config import Settings

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame


def forgotten_keys(settings: Settings) -> set[str]:
    """The ``user_key`` tombstones in the app store (empty when there is no store yet)."""
    if not settings.store_path.exists():
        return set()
    from engine.store import Store

    return Store(settings.store_path).forgotten_keys()


def drop_forgotten(rows: "DataFrame", settings: Settings, *, user_col: str = "user_id") -> tuple["DataFrame", int]:
    """``rows`` without the forgotten listeners (a broadcast anti-join) and how many keys apply."""
    keys = forgotten_keys(settings)
    if not keys:
        return rows, 0
    from pyspark.sql import functions as F

    gone = rows.sparkSession.createDataFrame([(k,) for k in sorted(keys)], [user_col])
    return rows.join(F.broadcast(gone), on=user_col, how="left_anti"), len(keys)
