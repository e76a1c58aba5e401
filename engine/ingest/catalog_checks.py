"""Row checks of the three catalogue inputs: parse each raw (all-string) row and give it a reason.

Each ``check_*`` function takes the raw DataFrame of :func:`engine.ingest.catalog_io.read_csv_strings`
and returns it with two more columns: ``_parsed`` (a struct of the canonical, typed values)
and ``reason`` (null for a usable row, else the first check the row fails, e.g.
``bad release_date``). :func:`mark_duplicates` then decides duplicates among otherwise usable
rows, so a bad first copy does not hide a good second one; the first usable copy in file
order is kept. :data:`INPUTS` describes the three inputs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pyspark import StorageLevel
from pyspark.sql import functions as F

from engine.core.schemas import AUDIO_FEATURES, INT_AUDIO_FEATURES
from engine.ingest.catalog_io import CORRUPT, ROW
from engine.ingest.catalog_parse import (
    blank,
    first_reason,
    list_literal_column,
    number_check,
    plausible_year,
    release_year,
    to_boolean,
    to_double,
    to_integral,
    valid_id,
)

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

#: The 20 columns of the Kaggle tracks.csv (a leading unnamed index column may precede them).
TRACK_SOURCE_COLUMNS: tuple[str, ...] = (
    "id",
    "name",
    "popularity",
    "duration_ms",
    "explicit",
    "artists",
    "id_artists",
    "release_date",
    *AUDIO_FEATURES,
)
ARTIST_REQUIRED: tuple[str, ...] = ("id", "name", "genres")
ARTIST_OPTIONAL: tuple[str, ...] = ("followers", "popularity")
GENRE_COLUMNS: tuple[str, ...] = ("artists", "genres")

PARSED = "_parsed"
REASON = "reason"


def _with_reason(df: "DataFrame", parsed: "Column", checks: list[tuple["Column", str]]) -> "DataFrame":
    return df.select("*", parsed.alias(PARSED)).select("*", first_reason(checks).alias(REASON))


def mark_duplicates(df: "DataFrame", *, key: str, reason: str) -> tuple["DataFrame", "DataFrame"]:
    """``df`` with ``reason`` set for every usable row whose ``key`` an earlier usable row has.

    Only the (key, row) pairs are shuffled, and the few duplicate rows are broadcast back,
    instead of shuffling whole rows through a window: at full size that is the difference
    between moving megabytes and moving the whole catalogue. ``df`` should be persisted.

    Returns
    -------
    (marked, duplicates)
        The marked rows, and the (persisted, small) row numbers of the duplicates, which the
        caller unpersists when done with ``marked``.
    """

    usable = df.where(F.col(REASON).isNull()).select(F.col(f"{PARSED}.{key}").alias("_key"), ROW)
    firsts = usable.groupBy("_key").agg(F.count("*").alias("_n"), F.min(ROW).alias("_first")).where("_n > 1")
    later = (
        usable.join(F.broadcast(firsts), "_key")
        .where(F.col(ROW) != F.col("_first"))
        .select(ROW, F.lit(True).alias("_duplicate"))
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    marked = df.join(F.broadcast(later), ROW, "left")
    marked = marked.withColumn(REASON, F.when(F.col("_duplicate"), F.lit(reason)).otherwise(F.col(REASON)))
    return marked.drop("_duplicate"), later


def _empty_if_blank(raw: "Column", parsed: "Column") -> "Column":

    return F.when(blank(raw), F.array().cast("array<string>")).otherwise(parsed)


def check_tracks(raw: "DataFrame", *, max_year: int | None = None) -> "DataFrame":
    """Parse and check raw Kaggle ``tracks.csv`` rows (all 20 columns kept, renamed)."""

    c = F.col
    numbers: dict[str, Column] = {
        "popularity": to_integral(c("popularity"), "int"),
        "duration_ms": to_integral(c("duration_ms"), "bigint"),
    }
    for name in AUDIO_FEATURES:
        numbers[name] = to_integral(c(name), "int") if name in INT_AUDIO_FEATURES else to_double(c(name))
    parsed = F.struct(
        F.trim(c("id")).alias("track_id"),
        c("name").alias("name"),
        list_literal_column(c("id_artists")).alias("artist_ids"),
        list_literal_column(c("artists")).alias("artist_names"),
        c("release_date").alias("release_date"),
        release_year(c("release_date")).alias("release_year"),
        numbers["popularity"].alias("popularity"),
        numbers["duration_ms"].alias("duration_ms"),
        to_boolean(c("explicit")).alias("explicit"),
        *[numbers[name].alias(name) for name in AUDIO_FEATURES],
    )
    p = lambda name: c(f"{PARSED}.{name}")  # noqa: E731
    checks = [
        (c(CORRUPT).isNotNull(), "malformed CSV row"),
        (blank(c("id")), "missing track_id"),
        (~valid_id(p("track_id")), "bad track_id"),
        (blank(c("artists")), "missing artists"),
        (p("artist_names").isNull(), "bad artists list"),
        (blank(c("id_artists")), "missing id_artists"),
        (p("artist_ids").isNull(), "bad id_artists list"),
        (F.size(p("artist_ids")) != F.size(p("artist_names")), "artists/id_artists length mismatch"),
        (F.exists(p("artist_ids"), lambda x: ~valid_id(x)), "bad artist id"),
        (blank(c("release_date")), "missing release_date"),
        (~plausible_year(p("release_year"), max_year=max_year), "bad release_date"),
        *[chk for name in ("popularity", "duration_ms") for chk in number_check(c(name), p(name), name)],
        *[chk for name in AUDIO_FEATURES for chk in number_check(c(name), p(name), name)],
        (blank(c("explicit")), "missing explicit"),
        (p("explicit").isNull(), "bad explicit"),
    ]
    return _with_reason(raw, parsed, checks)


def check_artists(raw: "DataFrame") -> "DataFrame":
    """Parse and check raw Kaggle ``artists.csv`` rows (``id, followers, genres, name, popularity``).

    Blank genres count as no genres; blank followers/popularity (or absent columns) as null.
    """

    c = F.col
    optional = {name: c(name) if name in raw.columns else F.lit(None).cast("string") for name in ARTIST_OPTIONAL}
    parsed = F.struct(
        F.trim(c("id")).alias("artist_id"),
        c("name").alias("name"),
        _empty_if_blank(c("genres"), list_literal_column(c("genres"))).alias("genres"),
        to_integral(optional["followers"], "bigint").alias("followers"),
        to_integral(optional["popularity"], "int").alias("popularity"),
    )
    p = lambda name: c(f"{PARSED}.{name}")  # noqa: E731
    checks = [
        (c(CORRUPT).isNotNull(), "malformed CSV row"),
        (blank(c("id")), "missing artist_id"),
        (~valid_id(p("artist_id")), "bad artist_id"),
        (p("genres").isNull(), "bad genres list"),
        *[(~blank(optional[n]) & p(n).isNull(), f"non-numeric {n}") for n in ARTIST_OPTIONAL],
    ]
    return _with_reason(raw, parsed, checks)


def check_genres(raw: "DataFrame") -> "DataFrame":
    """Parse and check rows of an artist-name -> genres file (``artists, genres``)."""

    c = F.col
    parsed = F.struct(
        c("artists").alias("name"),
        _empty_if_blank(c("genres"), list_literal_column(c("genres"))).alias("genres"),
    )
    checks = [
        (c(CORRUPT).isNotNull(), "malformed CSV row"),
        (blank(c("artists")), "missing artist name"),
        (c(f"{PARSED}.genres").isNull(), "bad genres list"),
    ]
    return _with_reason(raw, parsed, checks)


@dataclass(frozen=True)
class InputKind:
    """One kind of catalogue input: its required columns, row check and unique key."""

    required: tuple[str, ...]
    check: Callable[["DataFrame"], "DataFrame"]
    key: str
    duplicate_reason: str


INPUTS: dict[str, InputKind] = {
    "tracks": InputKind(TRACK_SOURCE_COLUMNS, check_tracks, "track_id", "duplicate track_id"),
    "artists": InputKind(ARTIST_REQUIRED, check_artists, "artist_id", "duplicate artist_id"),
    "genres": InputKind(GENRE_COLUMNS, check_genres, "name", "duplicate artist name"),
}
