"""Artist-level play counts: Audioscrobbler (2005) and Last.fm HetRec 2011.

Both produce ``interactions_schema("artist_id")`` rows (play counts summed per user and artist,
``ts`` null) and an artists table ``artist_id, name`` (HetRec adds ``url, picture_url``).
Ids are kept as the decimal strings of the source's integer ids, so the artists table joins.

Audioscrobbler's ``artist_alias.txt`` maps misspelt artist ids to the canonical one. The map
is applied as ``user_artist_data.txt`` is read (a broadcast join right after parsing), before
counts are summed, so the plays of a bad id land on the good id. Chains (a -> b -> c) are
followed to their end.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from pyspark.sql import functions as F

from engine.core.config import Settings
from engine.core.errors import InputError
from engine.ingest.readers.common import (
    ReadReport,
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

SOURCE_AUDIOSCROBBLER = "audioscrobbler"
SOURCE_HETREC = "lastfm"


def _lines(spark: "SparkSession", path: str) -> "DataFrame":
    """Lines of a text file (gzip ok) with CR removed, plus the file each came from."""

    check_local_paths([path])
    return spark.read.text(path).select(
        F.regexp_replace("value", "\r$", "").alias("raw"), file_col().alias("file")
    )


def _field(parts: "Column", i: int) -> "Column":
    """``parts[i]`` (0-based), null when the line has fewer fields (no ANSI index error)."""

    return F.try_element_at(parts, F.lit(i + 1))


def _int_id(col: "Column") -> "Column":
    """A non-negative integer id as its canonical decimal string, else null."""

    parsed = F.trim(col).try_cast("long")
    return F.when(parsed >= 0, parsed.cast("string"))


def _aggregate(good: "DataFrame", *, source: str) -> "DataFrame":

    return good.groupBy("user_id", "artist_id").agg(F.sum("count").cast("double").alias("weight")).select(
        "user_id",
        "artist_id",
        "weight",
        F.lit(source).alias("source"),
        F.lit(None).cast("timestamp").alias("ts"),
    )


def read_audioscrobbler(
    spark: "SparkSession",
    user_artist_path: str | Path,
    *,
    artist_data_path: str | Path | None = None,
    alias_path: str | Path | None = None,
    settings: Settings,
) -> tuple["DataFrame", "DataFrame | None", ReadReport]:
    """Read Audioscrobbler ``user_artist_data.txt`` (+ optional artist names and aliases).

    Parameters
    ----------
    spark
        The session.
    user_artist_path
        ``user artist playcount`` per line, space-separated, no header (gzip ok).
    artist_data_path
        ``id<TAB>name`` per line; malformed lines (no TAB, bad id, empty name) are rejected.
    alias_path
        ``bad_id<TAB>good_id`` per line; applied to the plays as they are read.
    settings
        For ``rejects_dir``.

    Returns
    -------
    (interactions, artists, report)
        ``artists`` is ``None`` without ``artist_data_path``. ``report.related`` holds the
        reports of the artist and alias files.

    Raises
    ------
    InputError
        A file is missing/unreadable, or no line of ``user_artist_path`` is usable.
    """

    path = str(user_artist_path)
    report = ReadReport(source=SOURCE_AUDIOSCROBBLER, files=[path])
    fields = F.split(F.trim("raw"), r"\s+")
    user, artist = _int_id(_field(fields, 0)), _int_id(_field(fields, 1))
    count = F.trim(_field(fields, 2)).try_cast("long")
    parsed = _lines(spark, path).select(
        "raw",
        "file",
        user.alias("user_id"),
        artist.alias("artist_id"),
        count.alias("count"),
        F.when(F.trim("raw") == "", "empty line")
        .when(F.size(fields) != 3, "not 3 space-separated fields")
        .when(user.isNull(), "bad user id")
        .when(artist.isNull(), "bad artist id")
        .when(count.isNull(), "bad count")
        .when(count <= 0, "count not positive")
        .alias("reason"),
    )
    good = split_rejects(parsed, report=report, settings=settings, name="audioscrobbler_user_artist")
    report.kept = report.read - report.n_rejected
    require_usable(report, path)

    if alias_path is not None:
        aliases, alias_report = _read_aliases(spark, str(alias_path), settings=settings)
        report.files.append(str(alias_path))
        report.related.append(alias_report)
        if aliases:
            alias_df = spark.createDataFrame(sorted(aliases.items()), "bad_id string, good_id string")
            good = (
                good.join(F.broadcast(alias_df), good["artist_id"] == alias_df["bad_id"], "left")
                .withColumn("artist_id", F.coalesce("good_id", "artist_id"))
                .drop("bad_id", "good_id")
            )
    interactions = finish_report(_aggregate(good, source=SOURCE_AUDIOSCROBBLER), report, item_col="artist_id")

    artists = _read_names(_read_artist_data, spark, artist_data_path, report, settings=settings)
    return interactions, artists, report


def _read_aliases(spark: "SparkSession", path: str, *, settings: Settings) -> tuple[dict[str, str], ReadReport]:
    """bad id -> good id with chains resolved (collected: the full file has ~190k lines)."""

    report = ReadReport(source="audioscrobbler artist_alias", files=[path])
    parts = F.split("raw", "\t")
    bad, good = _int_id(_field(parts, 0)), _int_id(_field(parts, 1))
    parsed = _lines(spark, path).select(
        "raw",
        "file",
        bad.alias("bad_id"),
        good.alias("good_id"),
        F.when(F.trim("raw") == "", "empty line")
        .when(F.size(parts) != 2, "not 2 TAB-separated fields")
        .when(bad.isNull() | good.isNull(), "bad id")
        .alias("reason"),
    )
    rows = split_rejects(parsed, report=report, settings=settings, name="audioscrobbler_alias").collect()
    raw_map: dict[str, str] = {}
    for row in sorted(rows, key=lambda r: (r["bad_id"], r["good_id"])):
        if row["bad_id"] == row["good_id"]:
            report.ignored["maps an id to itself"] = report.ignored.get("maps an id to itself", 0) + 1
        elif row["bad_id"] in raw_map:
            report.ignored["second alias for an id"] = report.ignored.get("second alias for an id", 0) + 1
        else:
            raw_map[row["bad_id"]] = row["good_id"]
    report.kept = len(raw_map)
    return {bad_id: _resolve(bad_id, raw_map) for bad_id in raw_map}, report


def _resolve(artist_id: str, aliases: dict[str, str]) -> str:
    """Follow alias chains to the end; a cycle stops at the last id before repeating."""
    seen = {artist_id}
    current = aliases[artist_id]
    while current in aliases and aliases[current] not in seen:
        seen.add(current)
        current = aliases[current]
    return current


def _read_names(
    reader: Callable[..., tuple["DataFrame", ReadReport]],
    spark: "SparkSession",
    path: str | Path | None,
    report: ReadReport,
    *,
    settings: Settings,
) -> "DataFrame | None":
    """The artist-names table read by ``reader`` (None without ``path``), its report attached to ``report``."""
    if path is None:
        return None
    artists, artists_report = reader(spark, str(path), settings=settings)
    report.files.append(str(path))
    report.related.append(artists_report)
    return artists


def _read_artist_data(spark: "SparkSession", path: str, *, settings: Settings) -> tuple["DataFrame", ReadReport]:

    report = ReadReport(source="audioscrobbler artist_data", files=[path])
    # Split at the first TAB only: names may contain TABs in the original file.
    artist_id = _int_id(F.regexp_extract("raw", r"^([^\t]*)\t", 1))
    name = F.trim(F.regexp_extract("raw", r"^[^\t]*\t(.*)$", 1))
    parsed = _lines(spark, path).select(
        "raw",
        "file",
        artist_id.alias("artist_id"),
        name.alias("name"),
        F.when(~F.col("raw").contains("\t"), "no TAB between id and name")
        .when(artist_id.isNull(), "bad id")
        .when(name == "", "empty name")
        .alias("reason"),
    )
    good = split_rejects(parsed, report=report, settings=settings, name="audioscrobbler_artist_data")
    # A few ids appear twice; keep one name per id (the smallest, so reruns agree).
    artists = good.groupBy("artist_id").agg(F.min("name").alias("name")).cache()
    report.kept = artists.count()
    duplicates = report.read - report.n_rejected - report.kept
    if duplicates:
        report.ignored["duplicate artist id"] = duplicates
    report.items = report.kept
    return artists, report


def _header_positions(path: str, header: str, required: tuple[str, ...]) -> dict[str, int]:
    names = [h.strip().strip('"').lower() for h in header.split("\t")]
    positions = {}
    for column in required:
        if column.lower() not in names:
            raise InputError(f"{path}: required column {column!r} missing from header {shown(header)}")
        positions[column] = names.index(column.lower())
    return positions


def read_hetrec(
    spark: "SparkSession",
    user_artists_path: str | Path,
    *,
    artists_path: str | Path | None = None,
    settings: Settings,
) -> tuple["DataFrame", "DataFrame | None", ReadReport]:
    """Read Last.fm HetRec 2011 ``user_artists.dat`` (+ optional ``artists.dat``).

    Both are TAB-separated with a header (``userID artistID weight``; ``id name url
    pictureURL``), CRLF or LF. Returns ``(interactions, artists, report)``; ``artists`` has
    ``artist_id, name, url, picture_url`` and is ``None`` without ``artists_path``.

    Raises
    ------
    InputError
        A file is missing/unreadable, a required header column is missing, or nothing is usable.
    """

    path = str(user_artists_path)
    report = ReadReport(source=SOURCE_HETREC, files=[path])
    check_local_paths([path])
    header = first_line(spark, path)
    pos = _header_positions(path, header, ("userID", "artistID", "weight"))
    fields = F.split("raw", "\t")
    user, artist = _int_id(_field(fields, pos["userID"])), _int_id(_field(fields, pos["artistID"]))
    count = F.trim(_field(fields, pos["weight"])).try_cast("double")
    parsed = (
        _lines(spark, path)
        .where(F.col("raw") != header)
        .select(
            "raw",
            "file",
            user.alias("user_id"),
            artist.alias("artist_id"),
            count.alias("count"),
            F.when(F.trim("raw") == "", "empty line")
            .when(F.size(fields) < max(pos.values()) + 1, "too few TAB-separated fields")
            .when(user.isNull(), "bad userID")
            .when(artist.isNull(), "bad artistID")
            .when(count.isNull() | F.isnan(count), "bad weight")
            .when(count <= 0, "weight not positive")
            .alias("reason"),
        )
    )
    good = split_rejects(parsed, report=report, settings=settings, name="lastfm_user_artists")
    report.kept = report.read - report.n_rejected
    require_usable(report, path)
    interactions = finish_report(_aggregate(good, source=SOURCE_HETREC), report, item_col="artist_id")

    artists = _read_names(_read_hetrec_artists, spark, artists_path, report, settings=settings)
    return interactions, artists, report


def _read_hetrec_artists(spark: "SparkSession", path: str, *, settings: Settings) -> tuple["DataFrame", ReadReport]:

    report = ReadReport(source="lastfm artists", files=[path])
    check_local_paths([path])
    header = first_line(spark, path)
    pos = _header_positions(path, header, ("id", "name"))
    names = [h.strip().lower() for h in header.split("\t")]
    fields = F.split("raw", "\t")
    artist_id = _int_id(_field(fields, pos["id"]))
    name = F.trim(_field(fields, pos["name"]))

    def optional(column: str) -> "Column":
        if column.lower() in names:
            return F.nullif(F.trim(_field(fields, names.index(column.lower()))), F.lit(""))
        return F.lit(None).cast("string")

    parsed = (
        _lines(spark, path)
        .where(F.col("raw") != header)
        .select(
            "raw",
            "file",
            artist_id.alias("artist_id"),
            name.alias("name"),
            optional("url").alias("url"),
            optional("pictureURL").alias("picture_url"),
            F.when(F.size(fields) < max(pos.values()) + 1, "too few TAB-separated fields")
            .when(artist_id.isNull(), "bad id")
            .when(name.isNull() | (name == ""), "empty name")
            .alias("reason"),
        )
    )
    good = split_rejects(parsed, report=report, settings=settings, name="lastfm_artists")
    # Keep one row per id (the smallest, so reruns agree).
    first = F.min(F.struct("name", "url", "picture_url")).alias("first")
    artists = good.groupBy("artist_id").agg(first).select("artist_id", "first.*").cache()
    report.kept = artists.count()
    duplicates = report.read - report.n_rejected - report.kept
    if duplicates:
        report.ignored["duplicate artist id"] = duplicates
    report.items = report.kept
    return artists, report
