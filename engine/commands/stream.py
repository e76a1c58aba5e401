"""``python -m engine stream``: listening events as a stream into ``data/parquet/interactions_stream``.

Data flow::

    events dir (JSON lines: the app's files, the Kafka bridge's files)  | Kafka topic (Spark's own
      |                                                                 |  source, when the
      |                                                                 |  spark-sql-kafka jar is
      v                                                                 v  on the classpath)
    Structured Streaming, one raw line per row (value, origin), checkpoint data/checkpoints/stream-<source>
      -> foreachBatch: parse against an explicit schema (the app's event fields, all as text)
      -> malformed events -> data/rejects/stream/batch=<id>/ as JSON lines (origin, reason, raw)
      -> dedup by event_id: inside the batch, then an anti-join against every earlier batch
      -> data/parquet/interactions_stream/batch=<id>/ (parquet, overwritten if the batch runs again)

Exactly once across restarts: the checkpoint records which files (or offsets) each batch read
and which batches completed. A batch interrupted after writing but before its commit runs again
on restart with the same input; it overwrites its own ``batch=<id>`` folder, and the anti-join
excludes that folder, so it writes the same rows again — never twice. Re-sent events (an
at-least-once writer, the Kafka bridge after a crash) carry an event_id already written and are
dropped. Lines without an event_id get one derived from their content (``sha:...``).

The output keeps one row per valid event (kinds that carry no taste signal with weight 0), in
the interactions columns first, so ``engine.training.run`` can read it like any interactions dataset;
:func:`events_to_interactions` applies the full rules of :mod:`engine.ingest.readers.events` (summed
positive weights, a later dislike cancels the pair) and is what ``engine.refresh.round`` uses.
Reading every earlier event_id per batch is cheap at this project's sizes; at millions of events
a day a table format with MERGE (Delta Lake, Iceberg) would replace the anti-join.

Kafka: ``--source kafka`` uses Spark's Kafka source when the connector is on the classpath —
``--spark-packages org.apache.spark:spark-sql-kafka-0-10_2.13:4.3.0`` (the version must be the
Spark version; Spark resolves it from Maven Central, so it needs that access), or ``--spark-jars``
with the connector jar and its kafka-clients / commons-pool2 dependencies already on disk. Offsets
then live in the checkpoint (``stream-kafka-<topic>``). Otherwise :mod:`engine.streaming.kafka_bridge`
consumes the topic into the events dir (confluent-kafka, offsets committed to the consumer
group after each write) and the file stream takes it from there.
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
