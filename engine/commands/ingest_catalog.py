"""``python -m engine ingest-catalog``: Kaggle catalogue CSV(.gz) -> canonical ``tracks``/``artists`` parquet.

``--sample`` ingests the shipped ``data/sample/``; the work is done by :mod:`engine.ingest.catalog`.
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
