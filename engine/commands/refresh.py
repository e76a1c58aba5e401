"""``python -m engine refresh [--every 6h]``: retrain on new listening, publish only if not worse.

The work is done by :mod:`engine.refresh.round` (one round) and :mod:`engine.refresh.loop` (``--every``).
"""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from engine.core.config import Settings
from engine.core.errors import EngineError, InputError
from engine.refresh.loop import parse_duration, run_loop
from engine.refresh.round import _ALS_FLAGS, EXIT_LOCKED, RefreshOptions, refresh_once
from engine.spark.session import get_spark

if TYPE_CHECKING:
    from pyspark.sql import SparkSession



# -- CLI -----------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``python -m engine refresh``."""
    parser.add_argument("--every", default=None, help="repeat every DURATION (90s, 15m, 6h, 1d) until stopped")
    parser.add_argument(
        "--tolerance", type=float, default=0.05, help="publish unless a gate metric drops by more than this share"
    )
    parser.add_argument("--gate-metrics", default="ndcg@10,recall@50", help="comma-separated metrics the gate compares")
    parser.add_argument("--min-test-users", type=int, default=10, help="listeners with new tracks needed to judge a model")
    parser.add_argument("--min-new-items", type=int, default=5, help="new tracks a listener needs to be held out")
    parser.add_argument("--seed", type=int, default=42, help="seed of the gate's holdout")
    parser.add_argument("--force", action="store_true", help="publish even if the gate refuses (recorded)")
    parser.add_argument("--no-ingest", action="store_true", help="do not run the events-dir stream once first")
    parser.add_argument("--params-file", type=Path, help="chosen params JSON (default models/best_params.json)")
    parser.add_argument("--stale-after", default="15m", help="a lock holder on another host is dead after this silence")
    parser.add_argument("--max-rounds", type=int, default=None, help="with --every: stop after this many rounds")
    for flag, typ in (("--rank", int), ("--max-iter", int), ("--reg-param", float), ("--alpha", float)):
        parser.add_argument(flag, type=typ, default=None, help="ALS override")
    parser.add_argument("--weight-transform", choices=("raw", "log1p", "binary", "clip"), default=None, help="ALS override")
    parser.add_argument("--k", type=int, default=None, help="KMeans clusters (default: the serving model's)")


def options_from_args(args: argparse.Namespace, settings: Settings) -> RefreshOptions:
    """RefreshOptions from parsed CLI arguments."""
    if not 0 <= args.tolerance < 1:
        raise InputError(f"--tolerance {args.tolerance}: must be in [0, 1)")
    return RefreshOptions(
        tolerance=args.tolerance,
        gate_metrics=tuple(m.strip() for m in args.gate_metrics.split(",") if m.strip()),
        min_test_users=args.min_test_users,
        min_items=args.min_new_items,
        seed=args.seed,
        force=args.force,
        ingest=not args.no_ingest,
        params_file=args.params_file or settings.models_dir / "best_params.json",
        als_overrides={k: getattr(args, k) for k in _ALS_FLAGS},
        kmeans_k=args.k,
        stale_after_s=parse_duration(args.stale_after),
    )


def main(args: argparse.Namespace, settings: Settings) -> int:
    """Run ``python -m engine refresh``."""

    options = options_from_args(args, settings)
    session: dict[str, "SparkSession"] = {}

    def spark_factory() -> "SparkSession":
        if "spark" not in session:
            session["spark"] = get_spark(settings, app_name="refresh")
        return session["spark"]

    if args.every is None:
        record = refresh_once(settings, spark_factory=spark_factory, options=options)
        return EXIT_LOCKED if record.lock.get("held_by") else 0

    every = parse_duration(args.every)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def reset_spark(exc: BaseException) -> None:
        if isinstance(exc, EngineError) or "spark" not in session:
            return  # bad input: the session is fine
        try:  # anything else may have left the JVM unusable: start afresh next round
            session.pop("spark").stop()
        except Exception:
            pass

    print(f"[refresh] every {args.every}; SIGTERM or Ctrl-C stops")
    try:
        run_loop(lambda: refresh_once(settings, spark_factory=spark_factory, options=options),
                 every_s=every, stop=stop, on_error=reset_spark, max_rounds=args.max_rounds)
    except KeyboardInterrupt:
        print("[refresh] stopped")
    return 0
