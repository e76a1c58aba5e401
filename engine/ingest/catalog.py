"""The Spotify catalogue: raw Kaggle CSV(.gz) -> canonical ``tracks`` and ``artists`` parquet.

Data flow (``ingest_catalog``)::

    tracks.csv  --read as strings--> check_tracks --usable--> + genres --> parquet/tracks
    artists.csv --read as strings--> check_artists ---------/        \\-> parquet/artists
    genres.csv  --read as strings--> check_genres ---------/
                        every rejected row, with its reason --> rejects/catalog_<kind>.csv

Inputs are the files of the Kaggle dataset "Spotify Dataset 1921-2020, 600k+ Tracks"
(yamaerenay): ``tracks.csv`` (586,672 rows, 20 columns) and ``artists.csv`` (``id, followers,
genres, name, popularity``), plus optionally an artist-name -> genres file (``artists,
genres``, the ``data_w_genres.csv`` of the sister 160k-tracks dataset). To use the full
dataset instead of the shipped sample, download it from Kaggle and run::

    python -m engine ingest-catalog --tracks tracks.csv --artists artists.csv [--genres data_w_genres.csv]

Decisions worth knowing:

- A track's ``genres`` is the union of its artists' genres in artist order, deduplicated.
  An artist's genres come from the artists table by id; only for artists the table lacks,
  from the genres file by exact artist name. Tracks with none get ``[]``.
- The ``artists`` table holds every usable row of the artists file, plus every artist named
  by a kept track but missing from that file (name from the track, genres from the genres
  file, followers/popularity null), so each track's artists can be looked up.
- ``release_date`` is kept as written; ``release_year`` is parsed (see
  :func:`engine.ingest.catalog_parse.release_year`).
- Rows are kept in file order; the first usable copy of a duplicated id wins.

:func:`ingest_catalog` runs it and returns a :class:`CatalogReport` (rows read, kept and
rejected by reason per file, genre coverage); :func:`ingest_sample` runs it on the shipped
``data/sample/``. The row checks are :mod:`engine.ingest.catalog_checks`, CSV reading and
parquet/rejects writing :mod:`engine.ingest.catalog_io`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyspark import StorageLevel
from pyspark.sql import functions as F
from pyspark.sql import types as ST

from engine.core.config import Settings
from engine.core.errors import InputError
from engine.core.progress import Progress
from engine.core.schemas import ARTIST_COLUMNS, TRACK_COLUMNS
from engine.ingest.catalog_checks import INPUTS, PARSED, REASON, mark_duplicates
from engine.ingest.catalog_io import (
    CORRUPT,
    ROW,
    SOURCE,
    guard_read,
    quoted,
    read_csv_strings,
    write_parquet,
    write_rejects,
)
from engine.spark.schemas import artists_schema, tracks_schema

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

#: File names of the shipped sample in ``settings.sample_dir`` (built by ``engine.ingest.sample``).
SAMPLE_FILES = {"tracks": "tracks.csv.gz", "artists": "artists.csv.gz", "genres": "genres.csv.gz"}


@dataclass(frozen=True)
class TableReport:
    """What happened to one input file: rows read, kept, and rejected by reason."""

    kind: str
    source: str
    read: int
    kept: int
    rejected: Mapping[str, int] = field(default_factory=dict)
    rejects_path: Path | None = None

    @property
    def n_rejected(self) -> int:
        """Total rejected rows."""
        return sum(self.rejected.values())

    def summary(self) -> str:
        """``read 10,124, kept 10,120, rejected 4: bad release_date 3, duplicate track_id 1``."""
        text = f"read {self.read:,}, kept {self.kept:,}, rejected {self.n_rejected:,}"
        if self.rejected:
            by_count = sorted(self.rejected.items(), key=lambda kv: (-kv[1], kv[0]))
            text += ": " + ", ".join(f"{reason} {n:,}" for reason, n in by_count)
        return text


@dataclass(frozen=True)
class CatalogReport:
    """Result of :func:`ingest_catalog`: per-file counts, output paths and genre coverage."""

    tracks: TableReport
    artists: TableReport | None
    genres: TableReport | None
    tracks_path: Path
    artists_path: Path
    n_artists: int
    tracks_with_genres: int
    elapsed_s: float

    @property
    def read(self) -> int:
        """Track rows read."""
        return self.tracks.read

    @property
    def kept(self) -> int:
        """Track rows written."""
        return self.tracks.kept

    @property
    def rejected(self) -> Mapping[str, int]:
        """Rejected track rows by reason."""
        return self.tracks.rejected

    def summary_lines(self) -> list[str]:
        """One line per input file plus one for the outputs."""
        lines = [f"{t.kind}: {t.summary()}" for t in (self.tracks, self.artists, self.genres) if t is not None]
        share = self.tracks_with_genres / self.kept if self.kept else 0.0
        lines.append(
            f"wrote {self.kept:,} tracks to {self.tracks_path} ({self.tracks_with_genres:,} = {share:.0%} "
            f"with genres) and {self.n_artists:,} artists to {self.artists_path}"
        )
        return lines


def _check_file(
    spark: "SparkSession",
    settings: Settings,
    path: str | os.PathLike[str],
    *,
    kind: str,
    progress: Progress,
    cached: list["DataFrame"],
) -> tuple["DataFrame", TableReport]:
    """Read, check, count, and write the rejects of one input; returns (usable parsed rows, report).

    The checked rows are persisted (the parse runs once; they are counted, then written
    twice) and appended to ``cached`` for the caller to release.
    """
    progress(f"reading {kind} {path}")
    raw = read_csv_strings(spark, path, kind=kind, required=INPUTS[kind].required)
    with progress.working(spark, f"checking {kind}"):
        return _count_and_reject(settings, raw, path, kind=kind, progress=progress, cached=cached)


def _count_and_reject(
    settings: Settings,
    raw: "DataFrame",
    path: str | os.PathLike[str],
    *,
    kind: str,
    progress: Progress,
    cached: list["DataFrame"],
) -> tuple["DataFrame", TableReport]:
    """The Spark part of :func:`_check_file`."""

    spec = INPUTS[kind]
    parsed = spec.check(raw).persist(StorageLevel.MEMORY_AND_DISK)
    cached.append(parsed)
    checked, duplicates = mark_duplicates(parsed, key=spec.key, reason=spec.duplicate_reason)
    cached.append(duplicates)
    counts = guard_read(kind, path, lambda: checked.groupBy(REASON).count().collect())
    by_reason = {r[REASON]: r["count"] for r in counts if r[REASON] is not None}
    read = sum(r["count"] for r in counts)
    raw_columns = [c for c in raw.columns if c not in (CORRUPT, SOURCE, ROW)]
    rejects = checked.where(F.col(REASON).isNotNull()).select(
        REASON, F.col(SOURCE).alias("source_file"), *[F.col(quoted(c)) for c in raw_columns],
        F.col(CORRUPT).alias("raw_record"),
    )
    rejects_path: Path | None = settings.rejects_dir / f"catalog_{kind}.csv"
    if by_reason:
        write_rejects(rejects, rejects_path)
    else:  # a stale file from an earlier run would mislead
        rejects_path.unlink(missing_ok=True)
        rejects_path = None
    report = TableReport(kind, str(path), read, read - sum(by_reason.values()), by_reason, rejects_path)
    progress(f"{kind}: {report.summary()}" + (f" (rejects: {rejects_path})" if rejects_path else ""))
    usable = checked.where(F.col(REASON).isNull()).select(ROW, f"{PARSED}.*")
    return usable, report


def _artist_pairs(tracks: "DataFrame") -> "DataFrame":
    """(track_id, pos, artist_id, artist_name) for every artist of every track."""

    zipped = F.posexplode(F.arrays_zip("artist_ids", "artist_names")).alias("pos", "a")
    return tracks.select("track_id", zipped).select(
        "track_id", "pos", F.col("a.artist_ids").alias("artist_id"), F.col("a.artist_names").alias("artist_name")
    )


def _attach_genres(
    tracks: "DataFrame", artists: "DataFrame | None", names: "DataFrame | None", *, cached: list["DataFrame"]
) -> tuple["DataFrame", "DataFrame"]:
    """Tracks with their genres, and the artists table completed with track-only artists.

    The (track, artist) pairs with their genres feed both outputs, so they are persisted and
    appended to ``cached`` for the caller to release after writing.
    """

    spark = tracks.sparkSession
    empty = F.array().cast("array<string>")
    if artists is None:
        # A DataType, not "bigint": parsing a type name needs a JVM round trip that fails here.
        artists = spark.createDataFrame([], artists_schema().add(ROW, ST.LongType()))
    if names is None:
        names = spark.createDataFrame([], "name string, genres array<string>")
    pairs = _artist_pairs(tracks)
    by_id = artists.select("artist_id", F.col("genres").alias("g_id"), F.lit(True).alias("known"))
    by_name = names.select(F.col("name").alias("artist_name"), F.col("genres").alias("g_name"))
    joined = pairs.join(by_id, "artist_id", "left").join(by_name, "artist_name", "left")
    joined = joined.persist(StorageLevel.MEMORY_AND_DISK)
    cached.append(joined)
    genres = F.when(F.col("known"), F.col("g_id")).otherwise(F.col("g_name"))
    per_track = joined.groupBy("track_id").agg(
        F.array_sort(F.collect_list(F.struct("pos", F.coalesce(genres, empty).alias("g")))).alias("gs")
    )
    per_track = per_track.select("track_id", F.array_distinct(F.flatten(F.col("gs.g"))).alias("genres"))
    # Rows without a usable id were rejected; coalesce only tells Spark the column is non-null.
    out_tracks = (
        tracks.join(per_track, "track_id", "left")
        .withColumn("genres", F.coalesce("genres", empty))
        .withColumn("track_id", F.coalesce("track_id", F.lit("")))
        .select(ROW, *TRACK_COLUMNS)
    )
    track_only = (
        joined.where(F.col("known").isNull())
        .groupBy("artist_id")
        .agg(F.min("artist_name").alias("artist_name"))  # min: deterministic if names differ
        .join(by_name, "artist_name", "left")
        .select(
            "artist_id",
            F.col("artist_name").alias("name"),
            F.coalesce("g_name", empty).alias("genres"),
            F.lit(None).cast("bigint").alias("followers"),
            F.lit(None).cast("int").alias("popularity"),
            F.lit(None).cast("bigint").alias(ROW),
        )
    )
    out_artists = (
        artists.select(*ARTIST_COLUMNS, ROW)
        .unionByName(track_only)
        .withColumn("artist_id", F.coalesce("artist_id", F.lit("")))
    )
    return out_tracks, out_artists


def ingest_catalog(
    spark: "SparkSession",
    settings: Settings,
    *,
    tracks_path: str | os.PathLike[str],
    artists_path: str | os.PathLike[str] | None = None,
    genres_path: str | os.PathLike[str] | None = None,
    out_dir: str | os.PathLike[str] | None = None,
) -> CatalogReport:
    """Read the Kaggle catalogue CSV(.gz) files and write canonical ``tracks``/``artists`` parquet.

    Parameters
    ----------
    spark : SparkSession
    settings : Settings
        ``settings.parquet_dir`` is the default output, ``settings.rejects_dir`` receives
        ``catalog_<kind>.csv`` with every rejected row (reason, source file, raw values).
    tracks_path : path
        Kaggle ``tracks.csv`` (plain or ``.gz``; a leading unnamed index column is dropped).
    artists_path : path, optional
        Kaggle ``artists.csv``: genres by artist id.
    genres_path : path, optional
        ``artists, genres`` by artist name, for artists the artists file lacks.
    out_dir : path, optional
        Where ``tracks/`` and ``artists/`` are written instead of ``settings.parquet_dir``.

    Returns
    -------
    CatalogReport
        Counts by file and reason, output paths, how many tracks got genres.

    Raises
    ------
    InputError
        A file is missing/unreadable or lacks a required column (the message names both), or
        no track row is usable.
    """
    progress = Progress("ingest-catalog")
    out = Path(out_dir) if out_dir is not None else settings.parquet_dir
    cached: list[DataFrame] = []
    try:
        tracks, tracks_report = _check_file(
            spark, settings, tracks_path, kind="tracks", progress=progress, cached=cached
        )
        if tracks_report.kept == 0:
            where = f"; see {tracks_report.rejects_path}" if tracks_report.rejects_path else ""
            raise InputError(
                f"nothing usable in tracks file {tracks_path}: {tracks_report.summary()}{where}"
            )
        artists = artists_report = names = genres_report = None
        if artists_path is not None:
            artists, artists_report = _check_file(
                spark, settings, artists_path, kind="artists", progress=progress, cached=cached
            )
        if genres_path is not None:
            names, genres_report = _check_file(
                spark, settings, genres_path, kind="genres", progress=progress, cached=cached
            )
        progress("attaching genres and writing parquet")
        with progress.working(spark, "writing parquet"):
            out_tracks, out_artists = _attach_genres(tracks, artists, names, cached=cached)
            tracks_out = write_parquet(out_tracks, out / "tracks", schema=tracks_schema(), order_by=[ROW])
            # File artists in file order, then artists named only by tracks, by id.
            artists_out = write_parquet(
                out_artists, out / "artists", schema=artists_schema(), order_by=[ROW, "artist_id"]
            )
    finally:
        for df in cached:
            df.unpersist()
    # Read back from the parquet footers and one list column with pyarrow: no Spark job.
    n_tracks, with_genres = _genre_coverage(tracks_out)
    n_artists = pq.ParquetDataset(artists_out).read(columns=["artist_id"]).num_rows
    if n_tracks != tracks_report.kept:  # would mean a join lost or duplicated rows
        raise RuntimeError(f"wrote {n_tracks} tracks, expected {tracks_report.kept}")
    report = CatalogReport(
        tracks=tracks_report,
        artists=artists_report,
        genres=genres_report,
        tracks_path=tracks_out,
        artists_path=artists_out,
        n_artists=n_artists,
        tracks_with_genres=with_genres,
        elapsed_s=progress.elapsed,
    )
    progress(report.summary_lines()[-1])
    return report


def _genre_coverage(path: Path) -> tuple[int, int]:
    """(rows, rows with at least one genre) of a written tracks table."""
    genres = pq.ParquetDataset(path).read(columns=["genres"]).column("genres")
    lengths = pc.fill_null(pc.list_value_length(genres), 0)
    return len(genres), int(pc.sum(pc.greater(lengths, 0)).as_py() or 0)


def ingest_sample(spark: "SparkSession", settings: Settings) -> CatalogReport:
    """Ingest the shipped sample (``settings.sample_dir``) into ``settings.parquet_dir``."""
    files = {kind: settings.sample_dir / name for kind, name in SAMPLE_FILES.items()}
    return ingest_catalog(
        spark,
        settings,
        tracks_path=files["tracks"],
        artists_path=files["artists"] if files["artists"].exists() else None,
        genres_path=files["genres"] if files["genres"].exists() else None,
    )
