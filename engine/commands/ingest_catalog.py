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
"""

from __future__ import annotations

import argparse

from engine.core.config import Settings
from engine.core.errors import InputError
from engine.ingest.catalog import ingest_catalog, ingest_sample
from engine.spark.session import get_spark


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``python -m engine ingest-catalog``."""
    parser.add_argument("--tracks", metavar="PATH", help="Kaggle tracks.csv (plain or .gz)")
    parser.add_argument("--artists", metavar="PATH", help="Kaggle artists.csv: genres by artist id")
    parser.add_argument("--genres", metavar="PATH", help="artists,genres CSV: genres by artist name")
    parser.add_argument("--out", metavar="DIR", help="output directory (default: DATA_DIR/parquet)")
    parser.add_argument("--sample", action="store_true", help="ingest the shipped sample in data/sample")


def main(args: argparse.Namespace, settings: Settings) -> int:
    """Run the command; returns the exit code (errors raise :class:`InputError`)."""

    if not args.sample and not args.tracks:
        raise InputError("ingest-catalog needs --tracks PATH (or --sample for the shipped sample)")
    spark = get_spark(settings, app_name="ingest-catalog")
    if args.sample:
        ingest_sample(spark, settings)
    else:
        ingest_catalog(
            spark,
            settings,
            tracks_path=args.tracks,
            artists_path=args.artists,
            genres_path=args.genres,
            out_dir=args.out,
        )
    return 0
