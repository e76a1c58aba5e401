"""Kafka <-> the events directory, with confluent-kafka (no Spark needed).

:class:`KafkaBridge` is what ``engine stream --source kafka`` runs when Spark's Kafka connector is
not on the classpath: it consumes a topic and lands the events in the events dir as JSON-lines
files, which the file stream then ingests. Delivery is at-least-once and the stream's dedup by
event_id makes it exactly-once end to end:

1. poll a batch of messages;
2. per partition, write ``kafka-<topic>-<partition>-<first>-<last>.jsonl`` under a dot-name,
   fsync, rename into place (the stream never sees half a file);
3. only then commit the offsets (``last + 1``) synchronously.

A crash between 2 and 3 re-delivers those messages on restart; their event_ids are already in
the stream's output, so they are dropped there.

Partitions are assigned explicitly (``assign`` with the group's committed offsets) rather than
subscribed through the group protocol: one bridge per topic needs no rebalancing, and it starts
at once (some brokers, e.g. Tansu, take ~20 s before a new group member gets its first message).

:class:`KafkaEventWriter` is the producer side used by ``engine replay --to kafka``.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, NewTopic

from engine.core.errors import InputError

DEFAULT_TOPIC = "listening-events"
DEFAULT_GROUP = "music-recommender-bridge"
#: confluent-kafka's error code for "reached the end of a partition" (KafkaError._PARTITION_EOF).
_PARTITION_EOF = -191


@dataclass
class BridgeReport:
    """What a bridge run moved."""

    topic: str
    messages: int = 0
    files: int = 0
    skipped_empty: int = 0
    committed: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0

    def summary(self) -> str:
        """One line for people."""
        offsets = ", ".join(f"p{p}@{o}" for p, o in sorted(self.committed.items())) or "none"
        return (
            f"kafka bridge {self.topic}: {self.messages:,} messages -> {self.files:,} files "
            f"(committed {offsets}) in {self.seconds:.1f}s"
        )


def _config(bootstrap: str, extra: dict[str, Any] | None) -> dict[str, Any]:
    return {"bootstrap.servers": bootstrap, **(extra or {})}


def as_line(value: bytes | None) -> str | None:
    """A message value as one JSON line: valid JSON re-serialized compactly, anything else kept
    as text on one line (the stream quarantines it as invalid JSON). None for an empty value."""
    if value is None:
        return None
    text = value.decode("utf-8", errors="replace")
    if not text.strip():
        return None
    try:
        return json.dumps(json.loads(text), ensure_ascii=False, separators=(",", ":"))
    except ValueError:
        return " ".join(text.splitlines())


class KafkaBridge:
    """Consume ``topic`` into ``out_dir`` as JSON-lines files, committing after each write.

    Parameters
    ----------
    bootstrap, topic, group : str
        Broker list, topic, and the consumer group whose committed offsets are the resume point.
    out_dir : Path
        The events dir the file stream reads.
    batch_size : int
        Messages per poll (one file per partition per poll).
    client_config : dict, optional
        Extra librdkafka settings (security, timeouts).
    before_commit : callable, optional
        Called with the written paths before offsets are committed (tests simulate a crash).
    """

    def __init__(
        self,
        *,
        bootstrap: str,
        topic: str = DEFAULT_TOPIC,
        out_dir: Path,
        group: str = DEFAULT_GROUP,
        batch_size: int = 1000,
        poll_seconds: float = 1.0,
        client_config: dict[str, Any] | None = None,
        before_commit: Callable[[list[Path]], None] | None = None,
    ) -> None:
        self.bootstrap, self.topic, self.group = bootstrap, topic, group
        self.out_dir = Path(out_dir)
        self.batch_size, self.poll_seconds = int(batch_size), float(poll_seconds)
        self.client_config = client_config or {}
        self.before_commit = before_commit

    def _consumer(self) -> tuple[Any, list[Any]]:

        consumer = Consumer(
            _config(
                self.bootstrap,
                {
                    "group.id": self.group,
                    "enable.auto.commit": False,
                    "auto.offset.reset": "earliest",
                    "enable.partition.eof": True,
                    **self.client_config,
                },
            )
        )
        try:
            meta = consumer.list_topics(self.topic, timeout=15)
            info = meta.topics.get(self.topic)
            if info is None or info.error is not None or not info.partitions:
                raise InputError(f"Kafka topic {self.topic!r} not found at {self.bootstrap}")
            parts = [TopicPartition(self.topic, p) for p in sorted(info.partitions)]
            start = consumer.committed(parts, timeout=15)
        except KafkaException as exc:
            consumer.close()
            raise InputError(f"Kafka at {self.bootstrap}: {exc.args[0].str() if exc.args else exc}") from None
        except InputError:
            consumer.close()
            raise
        for tp in start:
            if tp.offset < 0:  # nothing committed yet: from the beginning
                tp.offset = OFFSET_BEGINNING
        consumer.assign(start)
        return consumer, parts

    def drain(self, *, timeout_seconds: float = 120.0) -> BridgeReport:
        """Land everything up to the end of every partition, then return."""
        return self._loop(stop=None, until_eof=True, timeout_seconds=timeout_seconds)

    def run(self, stop: threading.Event) -> BridgeReport:
        """Land messages as they come until ``stop`` is set."""
        return self._loop(stop=stop, until_eof=False, timeout_seconds=None)

    def _loop(self, *, stop: threading.Event | None, until_eof: bool, timeout_seconds: float | None) -> BridgeReport:
        report = BridgeReport(self.topic)
        start = time.perf_counter()
        consumer, parts = self._consumer()
        at_eof: set[int] = set()
        try:
            while True:
                if stop is not None and stop.is_set():
                    break
                if until_eof and len(at_eof) == len(parts):
                    break
                if timeout_seconds is not None and time.perf_counter() - start > timeout_seconds:
                    raise InputError(
                        f"Kafka at {self.bootstrap}: topic {self.topic!r} not drained within {timeout_seconds:.0f}s"
                    )
                batch = []
                for msg in consumer.consume(self.batch_size, self.poll_seconds):
                    err = msg.error()
                    if err is not None:
                        if err.code() == _PARTITION_EOF:
                            at_eof.add(msg.partition())
                            continue
                        if err.fatal():
                            raise InputError(f"Kafka at {self.bootstrap}: {err.str()}")
                        continue  # transient: librdkafka retries by itself
                    at_eof.discard(msg.partition())
                    batch.append(msg)
                if batch:
                    self._land(consumer, batch, report)
        finally:
            consumer.close()
        report.seconds = round(time.perf_counter() - start, 3)
        return report

    def _land(self, consumer: Any, batch: list[Any], report: BridgeReport) -> None:

        by_partition: dict[int, list[Any]] = {}
        for msg in batch:
            by_partition.setdefault(msg.partition(), []).append(msg)
        written: list[Path] = []
        offsets = []
        for partition, msgs in sorted(by_partition.items()):
            first, last = msgs[0].offset(), msgs[-1].offset()
            lines = [line for line in (as_line(m.value()) for m in msgs) if line is not None]
            report.skipped_empty += len(msgs) - len(lines)
            report.messages += len(msgs)
            if lines:
                name = f"kafka-{_safe(self.topic)}-{partition}-{first:012d}-{last:012d}.jsonl"
                written.append(write_atomic(self.out_dir / name, lines))
                report.files += 1
            offsets.append(TopicPartition(self.topic, partition, last + 1))
        if self.before_commit is not None:
            self.before_commit(written)
        consumer.commit(offsets=offsets, asynchronous=False)
        for tp in offsets:
            report.committed[tp.partition] = tp.offset


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def write_atomic(path: Path, lines: Iterable[str]) -> Path:
    """Write lines under a dot-name, fsync, rename to ``path`` (readers skip dot-files)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        for line in lines:
            fh.write(line + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return path


# -- producer ----------------------------------------------------------------------------------


def ensure_topic(bootstrap: str, topic: str, *, partitions: int = 3, client_config: dict[str, Any] | None = None) -> bool:
    """Create ``topic`` when it does not exist; True when it was created."""

    admin = AdminClient(_config(bootstrap, client_config))
    try:
        if topic in admin.list_topics(timeout=15).topics:
            return False
        future = admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])[topic]
        future.result(timeout=30)
    except KafkaException as exc:
        err = exc.args[0] if exc.args else None
        if err is not None and getattr(err, "name", lambda: "")() == "TOPIC_ALREADY_EXISTS":
            return False
        raise InputError(f"Kafka at {bootstrap}: cannot create topic {topic!r} ({err.str() if err else exc})") from None
    return True


class KafkaEventWriter:
    """Produce JSON events to a topic, keyed by ``user_id`` (one listener's events stay in order)."""

    def __init__(self, *, bootstrap: str, topic: str = DEFAULT_TOPIC, client_config: dict[str, Any] | None = None) -> None:

        ensure_topic(bootstrap, topic, client_config=client_config)
        self.topic, self.bootstrap = topic, bootstrap
        self.producer = Producer(_config(bootstrap, {"linger.ms": 20, **(client_config or {})}))
        self.sent = 0
        self.failed = 0

    def _delivered(self, err: Any, msg: Any) -> None:
        if err is not None:
            self.failed += 1

    def write(self, records: Iterable[dict[str, Any]]) -> None:
        """Queue ``records`` (dicts with a ``user_id``) for sending."""
        for record in records:
            value = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
            while True:
                try:
                    self.producer.produce(
                        self.topic, key=str(record.get("user_id", "")), value=value, on_delivery=self._delivered
                    )
                    break
                except BufferError:  # local queue full: let librdkafka send some
                    self.producer.poll(0.1)
            self.sent += 1
            self.producer.poll(0)

    def close(self, timeout_seconds: float = 30.0) -> None:
        """Flush; raise InputError when messages could not be delivered."""
        left = self.producer.flush(timeout_seconds)
        if left or self.failed:
            raise InputError(
                f"Kafka at {self.bootstrap}: {left + self.failed:,} of {self.sent:,} events not delivered to {self.topic!r}"
            )
