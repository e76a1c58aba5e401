"""``python -m engine stream``: listening events (events dir or Kafka) into ``interactions_stream`` parquet.

The work is done by :mod:`engine.streaming.stream`.
"""

from __future__ import annotations

import argparse

from engine.core.config import Settings
from engine.core.locking import LockHeld
from engine.spark.session import get_spark
from engine.streaming.stream import run_stream

# -- CLI -------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``python -m engine stream``."""
    parser.add_argument("--source", choices=("files", "kafka"), default="files", help="events dir or a Kafka topic")
    parser.add_argument("--once", action="store_true", help="process what is there now, then stop (availableNow)")
    parser.add_argument("--trigger", type=float, default=10.0, metavar="SECONDS", help="micro-batch interval")
    parser.add_argument("--max-files-per-trigger", type=int, default=None, help="bound a micro-batch (files source)")
    parser.add_argument("--bootstrap", default=None, help="Kafka bootstrap servers HOST:PORT (--source kafka)")
    parser.add_argument("--topic", default=None, help="Kafka topic (default listening-events)")
    parser.add_argument("--group", default=None, help="consumer group of the bridge (default music-recommender-bridge)")
    parser.add_argument(
        "--spark-packages", default=None,
        help="Maven coordinates Spark downloads, e.g. org.apache.spark:spark-sql-kafka-0-10_2.13:<spark version>",
    )
    parser.add_argument("--spark-jars", default=None, help="local jars for Spark (comma-separated): the Kafka connector")


def main(args: argparse.Namespace, settings: Settings) -> int:
    """Run ``python -m engine stream``."""

    extra = {k: v for k, v in (("spark.jars.packages", args.spark_packages), ("spark.jars", args.spark_jars)) if v}
    spark = get_spark(settings, app_name="stream", extra_conf=extra)
    try:
        report = run_stream(
            spark, settings, source=args.source, once=args.once, trigger_seconds=args.trigger,
            max_files_per_trigger=args.max_files_per_trigger, bootstrap=args.bootstrap, topic=args.topic,
            group=args.group,
        )
    except LockHeld as exc:
        print(f"error: {exc}; one stream per data directory")
        return 75  # EX_TEMPFAIL: try again later
    print(report.summary())
    return 0
