"""``python -m engine train``: train ALS, item neighbours, the artist model and KMeans on Spark and publish a model bundle.

Track-level and artist-level interactions datasets (``interactions_lastfm`` from
``ingest-interactions --format hetrec``) are both read; artist-level ones feed the artist model.

The work is done by :mod:`engine.training.run`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.core.config import Settings
from engine.core.errors import InputError
from engine.spark.io import read_parquet
from engine.spark.session import get_spark
from engine.training.inputs import default_interaction_paths, read_interaction_sets
from engine.training.params import resolve_params, resolve_served
from engine.training.run import train


def add_arguments(parser: Any) -> None:
    """Arguments of ``python -m engine train``."""
    # Plain strings, not Path: pathlib would fold s3a://bucket/x into s3a:/bucket/x.
    parser.add_argument("--interactions", nargs="+", help="interactions parquet dataset(s) (local, hdfs://, s3a://); default: data/parquet/interactions*")
    parser.add_argument("--tracks", help="canonical tracks parquet (local, hdfs://, s3a://); default: data/parquet/tracks")
    parser.add_argument("--rank", type=int)
    parser.add_argument("--max-iter", type=int)
    parser.add_argument("--reg-param", type=float)
    parser.add_argument("--alpha", type=float)
    parser.add_argument("--weight-transform", choices=("raw", "log1p", "binary", "clip"))
    parser.add_argument("--k", type=int, help="KMeans clusters (default KMEANS_K)")
    parser.add_argument("--params-file", type=Path, help="JSON with chosen params (default models/best_params.json when present)")
    parser.add_argument("--models-dir", type=Path, help="publish here instead of MODELS_DIR")
    parser.add_argument("--no-publish", action="store_true", help="train and report, publish nothing")


def main(args: Any, settings: Settings) -> int:
    """Run ``python -m engine train``."""

    paths = args.interactions or default_interaction_paths(settings)
    if not paths:
        raise InputError(f"no interactions parquet under {settings.parquet_dir} (run `python -m engine prepare`)")
    tracks_path = args.tracks or settings.parquet_dir / "tracks"
    params_file = args.params_file or settings.models_dir / "best_params.json"
    served = resolve_served(params_file)
    params = resolve_params(
        settings,
        params_file=params_file,
        rank=args.rank, max_iter=args.max_iter, reg_param=args.reg_param, alpha=args.alpha,
        weight_transform=args.weight_transform,
    )
    spark = get_spark(settings, app_name="train")
    tracks = read_parquet(spark, tracks_path, "tracks")
    sets = read_interaction_sets(spark, paths, settings)
    report, _ = train(
        spark, settings, interactions=sets.tracks, artist_interactions=sets.artists, tracks=tracks, params=params,
        k=args.k, publish_to=None if args.no_publish else (args.models_dir or settings.models_dir),
        blend=served.blend, neighbour_params=served.neighbours, components=served.components,
        selection=served.selection,
    )
    print(
        f"trained on {report.n_interactions:,} track and {report.n_artist_interactions:,} artist interactions: "
        f"{report.n_users:,} listeners, "
        f"{report.n_items:,} items ({report.n_items_with_factors:,} with factors), "
        f"{report.n_artists:,} artists ({report.n_artists_with_factors:,} with factors)"
        + (f"; published {report.version}" if report.version else "")
    )
    return 0
