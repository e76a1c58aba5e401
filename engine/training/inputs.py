"""What training reads: the interactions parquet datasets, minus the listeners who asked to be forgotten.

:func:`default_interaction_paths` lists every ``interactions*`` dataset under
``data/parquet``; :func:`read_interaction_sets` unions them level by level (track-level
``user_id, track_id, weight, source``; artist-level ``artist_id`` instead of ``track_id``) and
names a path it cannot read; :func:`read_interactions` is the track level alone.

"Forget me" on the engine side (:func:`drop_forgotten`, :func:`forgotten_keys`): the app's
Forget me deletes a listener's SQLite rows and their not-yet-ingested event lines, and leaves a
tombstone (``forgotten`` table, the salted key only). Events the stream or an ingest already
copied into ``data/parquet`` are filtered out by a broadcast anti-join, so no model trained
after the request learns from them. (Bundles hold item factors only, never listener factors,
so a retrain is all it takes for the model to stop carrying them.) Every command that reads
training input (``train``, ``similarity``, ``evaluate`` on a parquet dataset, ``refresh``) reads it
through :func:`read_interactions` or :func:`drop_forgotten`, so the filter cannot be skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce
from pathlib import Path
from typing import TYPE_CHECKING

from pyspark.sql import functions as F

from engine.core.config import Settings
from engine.core.errors import InputError
from engine.spark.io import read_parquet
from engine.state.store import Store

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


def forgotten_keys(settings: Settings) -> set[str]:
    """The ``user_key`` tombstones in the app store (empty when there is no store yet)."""
    if not settings.store_path.exists():
        return set()

    return Store(settings.store_path).forgotten_keys()


def drop_forgotten(rows: "DataFrame", settings: Settings, *, user_col: str = "user_id") -> tuple["DataFrame", int]:
    """``rows`` without the forgotten listeners (a broadcast anti-join) and how many keys apply."""
    keys = forgotten_keys(settings)
    if not keys:
        return rows, 0

    gone = rows.sparkSession.createDataFrame([(k,) for k in sorted(keys)], [user_col])
    return rows.join(F.broadcast(gone), on=user_col, how="left_anti"), len(keys)





@dataclass(frozen=True)
class InteractionSets:
    """The interactions datasets read by level: track-level rows (``user_id, track_id, weight,
    source``) and artist-level rows (``user_id, artist_id, weight, source``: HetRec,
    Audioscrobbler); None where no dataset of that level was given."""

    tracks: "DataFrame | None"
    artists: "DataFrame | None"


def read_interaction_sets(spark: "SparkSession", paths: list[Path | str], settings: Settings) -> InteractionSets:
    """Union the interactions parquet datasets at ``paths`` level by level (a dataset's level is
    its item column, ``track_id`` or ``artist_id``; an unreadable path, or one with neither, is
    named), without the forgotten listeners."""
    if not paths:
        raise InputError(f"no interactions to read: no interactions* dataset in {settings.parquet_dir}")
    found: dict[str, list["DataFrame"]] = {"track_id": [], "artist_id": []}
    for path in paths:
        df = read_parquet(spark, path, "interactions")
        level = next((col for col in found if col in df.columns), None)
        if level is None:
            raise InputError(f"{path}: interactions need a track_id or artist_id column (have {', '.join(df.columns)})")
        found[level].append(df.select("user_id", level, "weight", "source"))
    sets = {}
    for level, frames in found.items():
        rows = reduce(lambda a, b: a.unionByName(b), frames) if frames else None
        sets[level] = drop_forgotten(rows, settings)[0] if rows is not None else None
    return InteractionSets(tracks=sets["track_id"], artists=sets["artist_id"])


def read_interactions(spark: "SparkSession", paths: list[Path | str], settings: Settings) -> "DataFrame":
    """The track-level interactions at ``paths`` (:func:`read_interaction_sets`; artist-level
    datasets are left out), without the forgotten listeners: every command that trains or
    evaluates on tracks reads here."""
    sets = read_interaction_sets(spark, paths, settings)
    if sets.tracks is None:
        raise InputError(f"no track-level interactions in {', '.join(map(str, paths))}: they are artist-level")
    return sets.tracks


def default_interaction_paths(settings: Settings) -> list[Path]:
    """Every ``interactions*`` parquet dataset under ``settings.parquet_dir``."""
    return sorted(p for p in settings.parquet_dir.glob("interactions*") if p.is_dir())
