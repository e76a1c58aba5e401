"""``python -m engine similarity``: similar tracks (MinHash, Word2Vec, TF-IDF) and LDA topics.

Written to the SQLite store and a republished bundle; the work is done by :mod:`engine.similarity.run`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from engine.bundle.layout import current_version
from engine.core.config import Settings
from engine.core.errors import InputError
from engine.similarity.minhash import (
    DEFAULT_NUM_HASH_TABLES,
    DEFAULT_TOP_N,
    listener_pairs,
    measure_lsh,
)
from engine.similarity.run import ALL_METHODS, republish_with_tables, run_similarity
from engine.spark.io import read_parquet
from engine.spark.session import get_spark
from engine.state.store import Store
from engine.training.inputs import default_interaction_paths, read_interactions

# -- CLI -------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``python -m engine similarity``."""
    parser.add_argument("--interactions", nargs="+", type=Path, help="interactions parquet dataset(s); default: data/parquet/interactions*")
    parser.add_argument("--tracks", type=Path, help="canonical tracks parquet; default: data/parquet/tracks")
    parser.add_argument("--methods", default=",".join(ALL_METHODS), help=f"comma-separated subset of {','.join(ALL_METHODS)}")
    parser.add_argument("--tables", type=int, default=DEFAULT_NUM_HASH_TABLES, help="MinHash numHashTables")
    parser.add_argument("--top", type=int, default=DEFAULT_TOP_N, help="neighbours kept per track and method")
    parser.add_argument("--measure", action="store_true", help="measure LSH recall@10 and speed-up vs exact Jaccard, write nothing")
    parser.add_argument("--no-publish", action="store_true", help="write the SQLite store only, not a new bundle version")


def main(args: argparse.Namespace, settings: Settings) -> int:
    """Run ``python -m engine similarity``."""

    paths = args.interactions or default_interaction_paths(settings)
    if not paths:
        raise InputError(f"no interactions parquet under {settings.parquet_dir} (run `python -m engine prepare`)")
    if args.top < 1:
        raise InputError(f"--top must be at least 1, got {args.top}")
    spark = get_spark(settings, app_name="similarity")
    interactions = read_interactions(spark, paths, settings)
    if args.measure:
        measure_lsh(listener_pairs(interactions))  # logs one line per setting (stdout under the CLI)
        return 0
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    tracks = None
    tracks_path = args.tracks or settings.parquet_dir / "tracks"
    if any(m in ("tfidf", "lda") for m in methods):
        tracks = read_parquet(spark, tracks_path, "tracks")
    store = Store(settings.store_path)
    report, tables = run_similarity(
        spark, interactions=interactions, tracks=tracks, store=store, methods=methods,
        num_hash_tables=args.tables, top=args.top,
    )
    if not args.no_publish:

        if current_version(settings.models_dir):
            report.version = republish_with_tables(
                settings.models_dir, tables, keep=settings.keep_versions, note=report.to_dict()
            )
            print(f"[similarity] published {report.version} with tables {', '.join(sorted(tables))}")
        else:
            print(f"[similarity] no bundle in {settings.models_dir}: wrote the SQLite store only")
    print(f"similar_tracks in {settings.store_path}: " + ", ".join(f"{m} {n:,}" for m, n in report.rows.items()))
    return 0
