"""Playlist collections as listening data: each playlist, or its owner, is a listener.

- Million Playlist Dataset (MPD) JSON slices: ``{"info": ..., "playlists": [{"pid", "name",
  "modified_at", "tracks": [{"pos", "artist_name", "track_uri", "track_name", ...}]}]}``.
  Each playlist is a listener ``mpd:<pid>``; weight 1 per occurrence of a track (summed);
  ``ts`` is the playlist's ``modified_at``.
- The "Spotify playlists" CSV ``user_id, artistname, trackname, playlistname`` (no track ids):
  rows are matched to catalogue tracks by :func:`engine.core.matching.match_key` (the same normalizer
  the app uses, run on Spark as a pandas UDF); the listener is the playlist owner ``user_id``.
  Unmatched rows are counted and written to the rejects file with reason
  ``no catalogue match``; the report carries the match rate.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.functions import pandas_udf

from engine.core.config import Settings
from engine.core.errors import InputError
from engine.core.matching import match_key
from engine.ingest.readers.common import (
    ReadReport,
    as_path_list,
    check_local_paths,
    file_col,
    finish_report,
    first_line,
    require_usable,
    shown,
    split_rejects,
)

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

SOURCE_MPD = "mpd"
SOURCE_PLAYLISTS = "playlists"
MPD_USER_PREFIX = "mpd:"
_TRACK_URI = r"^spotify:track:([0-9A-Za-z]{22})$"
UNMATCHED_REASON = "no catalogue match"
_NOT_JSON = "file is not valid JSON"
_NO_PLAYLISTS = "file has no 'playlists' array"


def _mpd_schema() -> "object":

    # Every leaf is read as a string (Spark keeps a number's text), then validated here, so one
    # odd value rejects one track entry instead of making the whole file a corrupt record.
    track = T.StructType(
        [T.StructField(n, T.StringType()) for n in ("pos", "artist_name", "track_uri", "track_name")]
    )
    playlist = T.StructType(
        [
            T.StructField("pid", T.StringType()),
            T.StructField("name", T.StringType()),
            T.StructField("modified_at", T.StringType()),
            T.StructField("tracks", T.ArrayType(track)),
        ]
    )
    return T.StructType(
        [
            T.StructField("info", T.StringType()),
            T.StructField("playlists", T.ArrayType(playlist)),
            T.StructField("_corrupt_record", T.StringType()),
        ]
    )


def read_mpd_json(
    spark: "SparkSession", paths: str | Path | Iterable[str | Path], *, settings: Settings
) -> tuple["DataFrame", ReadReport]:
    """Read MPD JSON slice files into interactions (``source = "mpd"``).

    Parameters
    ----------
    spark
        The session.
    paths
        One or more slice files (``mpd.slice.*.json``, gzip ok) or directories of them.
    settings
        For ``rejects_dir``.

    Returns
    -------
    (interactions, report)
        Counts in ``report`` are track entries. Rejected: ``missing pid``/``bad pid``,
        ``missing track_uri``, ``bad track_uri`` (not ``spotify:track:<22 chars>``), and
        ``playlist without tracks`` (one count per such playlist).

    Raises
    ------
    InputError
        A file is missing, not valid JSON, or has no ``playlists`` array; or nothing is usable.
    """

    files = as_path_list(paths)
    check_local_paths(files)
    report = ReadReport(source=SOURCE_MPD, files=files)
    raw = (
        spark.read.schema(_mpd_schema())
        .option("multiLine", True)
        .option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", "_corrupt_record")
        .json(files)
        .select("*", file_col().alias("file"))
    )
    # One pass, no cache of the raw JSON (the full MPD is ~30 GB): a file that is not valid
    # JSON or lacks "playlists" still yields one row (explode_outer) carrying a file-level
    # reason, which is turned into an InputError after counting.
    pid = F.trim("playlist.pid")
    pid_num = pid.try_cast("long")
    uri = F.trim("track.track_uri")
    track_id = F.regexp_extract(uri, _TRACK_URI, 1)
    modified = F.col("playlist.modified_at").try_cast("long")
    parsed = (
        raw.select(
            "file",
            F.col("_corrupt_record").isNotNull().alias("corrupt"),
            F.col("playlists").isNull().alias("no_playlists"),
            F.explode_outer("playlists").alias("playlist"),
        )
        .select("*", F.explode_outer("playlist.tracks").alias("track"))
        .select(
            "file",
            F.to_json(F.struct(F.col("playlist.pid").alias("pid"), "track")).alias("raw"),
            F.concat(F.lit(MPD_USER_PREFIX), pid_num.cast("string")).alias("user_id"),
            track_id.alias("track_id"),
            F.timestamp_seconds(modified).alias("ts"),
            F.when(F.col("corrupt"), _NOT_JSON)
            .when(F.col("no_playlists"), _NO_PLAYLISTS)
            .when(F.col("playlist").isNull(), "file with an empty playlists array")
            .when(F.col("track").isNull(), "playlist without tracks")
            .when(pid.isNull() | (pid == ""), "missing pid")
            .when(pid_num.isNull() | (pid_num < 0), "bad pid")
            .when(uri.isNull() | (uri == ""), "missing track_uri")
            .when(track_id == "", "bad track_uri")
            .alias("reason"),
        )
        .cache()
    )
    good = split_rejects(parsed, report=report, settings=settings, name="mpd")
    if _NOT_JSON in report.rejected or _NO_PLAYLISTS in report.rejected:
        bad = parsed.where(F.col("reason").isin(_NOT_JSON, _NO_PLAYLISTS)).select("file", "reason").first()
        raise InputError(f"{bad['file']}: {bad['reason']} (expected an MPD slice)")
    report.kept = report.read - report.n_rejected
    require_usable(report, ", ".join(files))
    interactions = good.groupBy("user_id", "track_id").agg(
        F.count(F.lit(1)).cast("double").alias("weight"), F.max("ts").alias("ts")
    )
    interactions = interactions.withColumn("source", F.lit(SOURCE_MPD))
    return finish_report(interactions, report, item_col="track_id"), report


# -- the playlists CSV ---------------------------------------------------------------------

_CSV_REQUIRED = ("user_id", "artistname", "trackname")


def _csv_header(path: str, line: str) -> list[str]:
    """Column names of the header line: quotes and surrounding spaces removed, lower case."""
    try:
        names = next(csv.reader([line], skipinitialspace=True))
    except (csv.Error, StopIteration):
        raise InputError(f"{path}: cannot parse the header line {shown(line)}") from None
    names = [n.strip().strip('"').strip().lower() for n in names]
    for column in _CSV_REQUIRED:
        if column not in names:
            raise InputError(f"{path}: required column {column!r} missing from header {shown(line)}")
    return names


def _match_keys(artist: pd.Series, title: pd.Series) -> pd.Series:
    """Vectorized :func:`engine.core.matching.match_key` (the body of the pandas UDF)."""
    return pd.Series([match_key(a, t) for a, t in zip(artist, title)], dtype="object")


def _match_key_udf() -> "object":
    """A pandas UDF computing :func:`engine.core.matching.match_key` (the one normalizer)."""

    return pandas_udf(_match_keys, "string")  # type: ignore[call-overload]


def catalog_keys(spark: "SparkSession", tracks: "DataFrame | pd.DataFrame") -> "DataFrame":
    """``key, track_id`` over every (credited artist, title) of ``tracks``, one track per key.

    ``tracks`` (Spark or pandas) has ``track_id, name, artist_names`` and optionally
    ``popularity``; when two tracks share a key, the more popular (then the smaller id) wins.
    """

    if not hasattr(tracks, "sparkSession"):
        tracks = spark.createDataFrame(tracks)  # a pandas DataFrame
    for column in ("track_id", "name", "artist_names"):
        if column not in tracks.columns:
            raise InputError(f"tracks table: required column {column!r} missing (has {tracks.columns})")
    popularity = F.col("popularity") if "popularity" in tracks.columns else F.lit(0)
    key_udf = _match_key_udf()
    exploded = tracks.select(
        "track_id", "name", F.coalesce(popularity, F.lit(0)).alias("pop"),
        F.explode("artist_names").alias("artist"),
    )
    best = F.min(F.struct((-F.col("pop")).alias("neg_pop"), "track_id"))
    return (
        exploded.select("track_id", "pop", key_udf("artist", "name").alias("key"))
        .where(F.col("key") != "")
        .groupBy("key")
        .agg(best.alias("best"))
        .select("key", F.col("best.track_id").alias("track_id"))
    )


def read_playlists_csv(
    spark: "SparkSession",
    path: str | Path,
    tracks: "DataFrame | pd.DataFrame",
    *,
    settings: Settings,
) -> tuple["DataFrame", ReadReport]:
    """Read the ``user_id, artistname, trackname, playlistname`` CSV, matched to ``tracks``.

    Parameters
    ----------
    spark
        The session.
    path
        The CSV (gzip ok). Header names may be quoted and have leading spaces.
    tracks
        Catalogue tracks (Spark or pandas) with ``track_id, name, artist_names``.
    settings
        For ``rejects_dir``.

    Returns
    -------
    (interactions, report)
        One row per (owner, track) with the number of playlist rows as weight; ``report``
        has the match rate over valid rows. Rejected: ``malformed CSV line``, ``missing
        <column>``, ``no catalogue match`` (the unmatched, written with the rejects).

    Raises
    ------
    InputError
        The file is missing/unreadable, a required column is missing, or nothing matched.
    """

    path = str(path)
    check_local_paths([path])
    report = ReadReport(source=SOURCE_PLAYLISTS, files=[path])
    names = _csv_header(path, first_line(spark, path))
    # Unique placeholder names for unknown/duplicate columns keep the schema valid.
    columns = [n if n and n not in names[:i] else f"_c{i}" for i, n in enumerate(names)]
    schema = T.StructType(
        [T.StructField(c, T.StringType()) for c in columns] + [T.StructField("_corrupt_record", T.StringType())]
    )
    rows = (
        spark.read.schema(schema)
        .option("header", True)
        .option("enforceSchema", True)
        .option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", "_corrupt_record")
        .option("escape", '"')  # RFC 4180: a quote inside a quoted field is doubled
        .option("ignoreLeadingWhiteSpace", True)
        .option("ignoreTrailingWhiteSpace", True)
        .csv(path)
        .select("*", file_col().alias("file"))
    )
    key_udf = _match_key_udf()
    # Referencing every column also keeps Spark's CSV column pruning from skipping the
    # field-count check that flags a malformed line.
    raw_text = F.coalesce(F.col("_corrupt_record"), F.to_json(F.struct(*[F.col(c) for c in columns])))
    reason: "Column" = F.when(F.col("_corrupt_record").isNotNull(), "malformed CSV line")
    for column in _CSV_REQUIRED:
        reason = reason.when(F.col(column).isNull() | (F.trim(column) == ""), f"missing {column}")
    prepared = rows.select(
        "file",
        raw_text.alias("raw"),
        F.trim("user_id").alias("user_id"),
        key_udf("artistname", "trackname").alias("key"),
        reason.alias("pre_reason"),
    )
    keys = catalog_keys(spark, tracks)
    parsed = prepared.join(keys, "key", "left").select(
        "file",
        "raw",
        "user_id",
        "track_id",
        F.coalesce(
            "pre_reason", F.when(F.col("track_id").isNull(), F.lit(UNMATCHED_REASON))
        ).alias("reason"),
    )
    good = split_rejects(parsed, report=report, settings=settings, name="playlists")
    report.kept = report.read - report.n_rejected
    valid = report.kept + report.rejected.get(UNMATCHED_REASON, 0)
    report.matched = report.kept
    report.match_rate = report.kept / valid if valid else 0.0
    require_usable(report, path)
    interactions = good.groupBy("user_id", "track_id").agg(F.count(F.lit(1)).cast("double").alias("weight"))
    interactions = interactions.select(
        "*", F.lit(SOURCE_PLAYLISTS).alias("source"), F.lit(None).cast("timestamp").alias("ts")
    )
    return finish_report(interactions, report, item_col="track_id"), report
