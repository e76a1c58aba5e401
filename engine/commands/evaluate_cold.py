"""``python -m engine evaluate-cold``: ALS vs content vs the hybrid on rarely or never played items.

Prints the recall table and the tuned hybrid weights; the work is done by :mod:`engine.evaluation.cold_items`.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, replace
from pathlib import Path

from engine.core.config import Settings
from engine.evaluation.cold_items import (
    demo_inputs,
    hetrec_inputs,
    run_cold_evaluation,
)
from engine.spark.session import get_spark
from engine.training.als import AlsParams


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``python -m engine evaluate-cold``."""
    parser.add_argument("--data", choices=("demo", "hetrec"), default="demo",
                        help="demo listeners (track level) or Last.fm HetRec (artist level)")
    parser.add_argument("--shared-data", type=Path, default=None,
                        help="folder with the HetRec files (default: SHARED_DATA_DIR)")
    parser.add_argument("--n-cold", type=int, default=400, help="cold items to hide (half tune, half test)")
    parser.add_argument("--rank", type=int, default=32)


def main(args: argparse.Namespace, settings: Settings) -> int:
    """Print the cold-item evaluation table and the tuned hybrid weights."""
    spark = get_spark(settings, app_name="evaluate-cold")
    params = replace(AlsParams.from_settings(settings), rank=args.rank, weight_transform="binary")
    if args.data == "demo":
        pairs, items, audio = demo_inputs(settings)
        report = run_cold_evaluation(spark, pairs, items, audio=audio, params=params, n_cold=args.n_cold)
    else:
        pairs, items = hetrec_inputs(args.shared_data or settings.shared_data_dir)
        report = run_cold_evaluation(spark, pairs, items, audio=None, params=params, item_col="artist_id", n_cold=args.n_cold)
    print(report.table())
    print(f"weights: {asdict(report.weights)}; tune recall@{report.k} {report.tune_recall:.3f}; {report.seconds}s")
    return 0
