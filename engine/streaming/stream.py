"""Listening events as a Structured Streaming job into ``data/parquet/interactions_stream``.

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

:func:`run_stream` runs it (``python -m engine stream``, one stream per data directory: it
holds a lock file), :class:`EventSink` is the ``foreachBatch`` function, and
:func:`ingest_pending` catches up once, as the refresh round does before training.

The output keeps one row per valid event (kinds that carry no taste signal with weight 0), in
the interactions columns first, so training (:func:`engine.training.inputs.read_interactions`)
can read it like any interactions dataset; :func:`events_to_interactions` applies the full rules
of :mod:`engine.ingest.readers.events` (summed positive weights, a later dislike cancels the
pair) and is what :mod:`engine.refresh.round` uses.
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

import logging
import shutil
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pyspark.sql import Window
from pyspark.sql import functions as F

from engine.core.config import Settings
from engine.core.errors import InputError
from engine.core.locking import FileLock, LockHeld
from engine.ingest.readers.events import CANCELLING_KINDS, POSITIVE_KINDS, parse_events
from engine.streaming.kafka_bridge import DEFAULT_TOPIC, KafkaBridge

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.streaming import StreamingQuery

logger = logging.getLogger(__name__)

STREAM_TABLE = "interactions_stream"
SOURCE_STREAM = "stream"
#: Files of the events dir the stream reads (the app writes events-*.jsonl, the bridge kafka-*.jsonl).
FILE_GLOB = "*.json*"
SPARK_KAFKA_PACKAGE = "org.apache.spark:spark-sql-kafka-0-10_2.13:{version}"


@dataclass(frozen=True)
class StreamPaths:
    """Where the stream reads and writes."""

    events: Path
    output: Path
    rejects: Path
    checkpoints: Path
    lock: Path

    @classmethod
    def of(cls, settings: Settings) -> "StreamPaths":
        """The default locations under ``settings.data_dir``."""
        checkpoints = settings.data_dir / "checkpoints"
        return cls(
            events=settings.events_dir,
            output=settings.parquet_dir / STREAM_TABLE,
            rejects=settings.rejects_dir / "stream",
            checkpoints=checkpoints,
            lock=checkpoints / "stream.lock",
        )


@dataclass
class StreamReport:
    """Counts of one stream run (all batches)."""

    source: str = "files"
    batches: int = 0
    read: int = 0
    written: int = 0
    duplicates: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    kinds: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def n_rejected(self) -> int:
        """Total malformed events."""
        return sum(self.rejected.values())

    def summary(self) -> str:
        """One line for people."""
        line = (
            f"stream ({self.source}): {self.batches} batch(es), read {self.read:,}, written {self.written:,}, "
            f"duplicates {self.duplicates:,}, rejected {self.n_rejected:,}"
        )
        if self.rejected:
            line += " (" + ", ".join(f"{r} {n:,}" for r, n in sorted(self.rejected.items())) + ")"
        if self.seconds > 0:
            line += f" in {self.seconds:.1f}s ({self.read / self.seconds:,.0f} events/s)"
        return line

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {**asdict(self), "n_rejected": self.n_rejected}


# -- parsing ---------------------------------------------------------------------------------


def events_to_interactions(events: "DataFrame") -> "DataFrame":
    """Stream events -> interactions by the rules of :mod:`engine.ingest.readers.events`.

    Positive weights of a (user, track) pair are summed, ``ts`` is the latest positive event's,
    and a dislike (or an exclusion) that is the pair's latest event cancels it. ``arrival_us`` (when present) becomes
    the pair's earliest positive arrival. Returns ``user_id, track_id, weight, source, ts[, arrival_us]``.
    """

    positive = F.col("kind").isin(*POSITIVE_KINDS)
    epoch = F.timestamp_seconds(F.lit(0))
    aggs = [
        F.sum(F.when(positive, F.col("weight"))).alias("weight"),
        F.max(F.when(positive, F.coalesce("ts", epoch))).alias("_last_positive"),
        F.max(F.when(positive, F.col("ts"))).alias("ts"),
        F.max(F.when(F.col("kind").isin(*CANCELLING_KINDS), F.coalesce("ts", epoch))).alias("_last_dislike"),
    ]
    extra = ["arrival_us"] if "arrival_us" in events.columns else []
    if extra:
        aggs.append(F.min(F.when(positive, F.col("arrival_us"))).alias("arrival_us"))
    pairs = events.groupBy("user_id", "track_id").agg(*aggs)
    cancelled = F.col("_last_dislike").isNotNull() & (F.col("_last_dislike") >= F.col("_last_positive"))
    cols = ["user_id", "track_id", "weight", F.lit(SOURCE_STREAM).alias("source"), "ts"]
    return pairs.where((F.col("weight") > 0) & ~cancelled).select(*cols, *extra)


def has_parquet(path: Path) -> bool:
    """True when ``path`` holds at least one parquet file (at any depth)."""
    return Path(path).is_dir() and next(Path(path).rglob("*.parquet"), None) is not None


# -- the sink --------------------------------------------------------------------------------


class EventSink:
    """The ``foreachBatch`` function: validate, quarantine, dedup, append (see the module docstring)."""

    def __init__(self, paths: StreamPaths, report: StreamReport) -> None:
        self.paths, self.report = paths, report
        self.lock = threading.Lock()

    def __call__(self, batch: "DataFrame", batch_id: int) -> None:

        spark = batch.sparkSession
        parsed = parse_events(batch).persist()
        try:
            counts = {r["reason"]: int(r["count"]) for r in parsed.groupBy("reason").count().collect()}
            bad = {reason: n for reason, n in counts.items() if reason is not None}
            if bad:
                (
                    parsed.where(F.col("reason").isNotNull())
                    .select("origin", "reason", "raw")
                    .coalesce(1)
                    .write.mode("overwrite")
                    .json(str(self.paths.rejects / f"batch={batch_id}"))
                )
            good = parsed.where(F.col("reason").isNull()).drop("reason", "raw")
            first = Window.partitionBy("event_id").orderBy(F.col("ts").asc_nulls_first(), "origin")
            good = good.withColumn("_n", F.row_number().over(first)).where("_n = 1").drop("_n")
            if has_parquet(self.paths.output):
                written = spark.read.parquet(str(self.paths.output)).where(F.col("batch") != batch_id).select("event_id")
                good = good.join(written, "event_id", "left_anti")
            new = good.select(
                "user_id", "track_id", "weight", F.lit(SOURCE_STREAM).alias("source"), "ts",
                "event_id", "kind", "origin", F.current_timestamp().alias("ingested_at"),
            ).persist()
            kinds = {r["kind"]: int(r["count"]) for r in new.groupBy("kind").count().collect()}
            n_new = sum(kinds.values())
            target = self.paths.output / f"batch={batch_id}"
            if n_new:
                new.coalesce(1).write.mode("overwrite").parquet(str(target))
            elif target.exists():  # an earlier attempt of this batch wrote rows that are now elsewhere
                shutil.rmtree(target)
            new.unpersist()
        finally:
            parsed.unpersist()
        n_read = sum(counts.values())
        n_valid = counts.get(None, 0)
        with self.lock:
            r = self.report
            r.batches += 1
            r.read += n_read
            r.written += n_new
            r.duplicates += n_valid - n_new
            for reason, n in bad.items():
                r.rejected[reason] = r.rejected.get(reason, 0) + n
            for kind, n in kinds.items():
                r.kinds[kind] = r.kinds.get(kind, 0) + n
        detail = ", ".join(f"{k} {v:,}" for k, v in sorted(bad.items()))
        logger.info(
            f"[stream] batch {batch_id}: read {n_read:,}, written {n_new:,}, duplicates {n_valid - n_new:,}, "
            f"rejected {sum(bad.values()):,}" + (f" ({detail})" if detail else "")
        )


# -- sources and queries ---------------------------------------------------------------------


def spark_kafka_available(spark: "SparkSession") -> bool:
    """True when Spark's Kafka source (the spark-sql-kafka connector) is on the classpath."""
    try:
        spark.readStream.format("kafka").option("kafka.bootstrap.servers", "127.0.0.1:9").option(
            "subscribe", "probe"
        ).load()
    except Exception as exc:  # AnalysisException [KAFKA_DATA_SOURCE_NOT_ENABLED] / DATA_SOURCE_NOT_FOUND
        text = str(exc)
        if "KAFKA_DATA_SOURCE_NOT_ENABLED" in text or "Failed to find data source" in text:
            return False
        raise
    return True


def file_source(spark: "SparkSession", events_dir: Path, *, max_files_per_trigger: int | None = None) -> "DataFrame":
    """The events dir as a stream of raw lines (``value``, ``origin`` = file path)."""

    Path(events_dir).mkdir(parents=True, exist_ok=True)
    # The app's "forget me" may delete an events file between listing and reading: skip it.
    reader = spark.readStream.format("text").option("pathGlobFilter", FILE_GLOB).option("ignoreMissingFiles", "true")
    if max_files_per_trigger:
        reader = reader.option("maxFilesPerTrigger", int(max_files_per_trigger))
    return reader.load(str(events_dir)).select("value", F.col("_metadata.file_path").alias("origin"))


def kafka_source(spark: "SparkSession", *, bootstrap: str, topic: str) -> "DataFrame":
    """A Kafka topic as a stream of raw lines (Spark's connector; offsets live in the checkpoint)."""

    return (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", bootstrap)
        .option("subscribe", topic)
        .option("startingOffsets", "earliest")
        .option("failOnDataLoss", "false")
        .load()
        .select(
            F.col("value").cast("string").alias("value"),
            F.format_string("kafka:%s/%d@%d", "topic", "partition", "offset").alias("origin"),
        )
    )


def start_query(
    raw: "DataFrame",
    sink: EventSink,
    *,
    checkpoint: Path,
    once: bool,
    trigger_seconds: float = 10.0,
) -> "StreamingQuery":
    """Start the foreachBatch query (``availableNow`` when ``once``)."""
    writer = raw.writeStream.foreachBatch(sink).option("checkpointLocation", str(checkpoint))
    if once:
        writer = writer.trigger(availableNow=True)
    else:
        writer = writer.trigger(processingTime=f"{max(0.1, trigger_seconds)} seconds")
    return writer.start()


def run_stream(
    spark: "SparkSession",
    settings: Settings,
    *,
    source: str = "files",
    once: bool = False,
    trigger_seconds: float = 10.0,
    max_files_per_trigger: int | None = None,
    bootstrap: str | None = None,
    topic: str | None = None,
    group: str | None = None,
    stop: threading.Event | None = None,
) -> StreamReport:
    """Run the stream until it has caught up (``once``) or ``stop`` is set / Ctrl-C.

    Takes the stream lock (one writer per data dir) and raises :class:`engine.core.locking.LockHeld`
    when another stream holds it. ``source`` is ``files`` (the events dir) or ``kafka``.
    """
    if source not in ("files", "kafka"):
        raise InputError(f"--source {source!r}: expected files or kafka")
    paths = StreamPaths.of(settings)
    report = StreamReport(source=source)
    stop = stop or threading.Event()
    start = time.perf_counter()
    bridge_errors: list[BaseException] = []
    with FileLock(paths.lock, purpose="stream"):
        bridge_thread = None
        if source == "kafka":

            if not bootstrap:
                raise InputError("--source kafka needs --bootstrap HOST:PORT")
            topic = topic or DEFAULT_TOPIC
            if spark_kafka_available(spark):
                logger.info(f"[stream] reading Kafka topic {topic} at {bootstrap} with Spark's Kafka source")
                raw = kafka_source(spark, bootstrap=bootstrap, topic=topic)
                checkpoint = paths.checkpoints / f"stream-kafka-{topic}"
            else:
                logger.info(
                    "[stream] Spark's Kafka connector is not on the classpath "
                    f"({SPARK_KAFKA_PACKAGE.format(version=spark.version)}); bridging {topic} into {paths.events} "
                    "with confluent-kafka"
                )
                bridge = KafkaBridge(
                    bootstrap=bootstrap, topic=topic, out_dir=paths.events, **({"group": group} if group else {})
                )
                if once:
                    logger.info(f"[stream] {bridge.drain().summary()}")
                else:

                    def bridge_main() -> None:
                        try:
                            bridge.run(stop)
                        except BaseException as exc:  # surface it: the stream would silently starve
                            bridge_errors.append(exc)
                            stop.set()

                    bridge_thread = threading.Thread(target=bridge_main, name="kafka-bridge", daemon=True)
                    bridge_thread.start()
                raw = file_source(spark, paths.events, max_files_per_trigger=max_files_per_trigger)
                checkpoint = paths.checkpoints / "stream-files"
        else:
            raw = file_source(spark, paths.events, max_files_per_trigger=max_files_per_trigger)
            checkpoint = paths.checkpoints / "stream-files"
        sink = EventSink(paths, report)
        query = start_query(raw, sink, checkpoint=checkpoint, once=once, trigger_seconds=trigger_seconds)
        try:
            if once:
                query.awaitTermination()
            else:
                while query.isActive and not stop.is_set():
                    query.awaitTermination(1.0)
                if query.exception() is not None:
                    raise query.exception()  # type: ignore[misc]
        finally:
            stop.set()
            if query.isActive:
                query.stop()
            if bridge_thread is not None:
                bridge_thread.join(timeout=30)
        if bridge_errors:
            raise bridge_errors[0]
    report.seconds = round(time.perf_counter() - start, 3)
    return report


def ingest_pending(
    spark: "SparkSession", settings: Settings
) -> StreamReport | None:
    """Catch up on the events dir once (what ``engine.refresh.round`` does before training).

    Returns None, without waiting, when a running ``engine stream`` holds the lock: its output
    is then already being kept up to date.
    """
    events = StreamPaths.of(settings).events
    if not events.is_dir() or next(events.glob(FILE_GLOB), None) is None:
        return StreamReport()  # nothing was ever written: no need to start a query
    try:
        return run_stream(spark, settings, source="files", once=True)
    except LockHeld as exc:
        logger.warning(f"[stream] not ingesting: {exc}")
        return None
