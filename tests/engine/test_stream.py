"""The listening-events stream on real Spark Structured Streaming: validation and quarantine,
dedup by event_id, exactly-once across a restart (including a batch that crashed before its
commit), and the same rules as the batch reader of app events."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from engine.core.locking import FileLock, LockHeld
from engine.ingest.readers.events import read_app_events
from engine.streaming.stream import (
    EventSink,
    StreamPaths,
    StreamReport,
    events_to_interactions,
    file_source,
    ingest_pending,
    run_stream,
    start_query,
)

DATA = Path(__file__).resolve().parent.parent / "data" / "interactions"


def write_file(events_dir: Path, name: str, lines: list[str]) -> Path:
    """An events file written like the app writes them: a dot-name, then a rename."""
    events_dir.mkdir(parents=True, exist_ok=True)
    tmp = events_dir / f".{name}.tmp"
    tmp.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    os.replace(tmp, events_dir / name)
    return events_dir / name


def event(i: int, *, kind: str = "play", event_id: str | None = None) -> str:
    return json.dumps(
        {
            "event_id": event_id or f"e{i:04d}",
            "user_id": f"u{i % 5}",
            "track_id": f"{i % 20:022d}",
            "kind": kind,
            "weight": 1.0,
            "ts": f"2026-03-01T10:{i % 60:02d}:00+00:00",
        }
    )


def output_ids(spark, settings) -> list[str]:
    return [r["event_id"] for r in spark.read.parquet(str(StreamPaths.of(settings).output)).select("event_id").collect()]


def test_events_appended_while_running_are_ingested_once_across_a_restart(spark, settings) -> None:
    paths = StreamPaths.of(settings)
    report = StreamReport()
    query = start_query(
        file_source(spark, paths.events), EventSink(paths, report),
        checkpoint=paths.checkpoints / "stream-files", once=False, trigger_seconds=0.2,
    )
    try:
        write_file(paths.events, "events-a.jsonl", [event(i) for i in range(0, 30)])
        query.processAllAvailable()
        # B re-sends five of A's events (an at-least-once writer) next to new ones.
        write_file(paths.events, "events-b.jsonl", [event(i) for i in range(30, 60)] + [event(i) for i in range(5)])
        query.processAllAvailable()
    finally:
        query.stop()
    assert report.written == 60 and report.duplicates == 5
    assert sorted(output_ids(spark, settings)) == [f"e{i:04d}" for i in range(60)]

    # A crash after the last batch wrote its rows but before Spark recorded its commit:
    commits = paths.checkpoints / "stream-files" / "commits"
    last = max(int(p.name) for p in commits.iterdir() if p.name.isdigit())
    for name in (str(last), f".{last}.crc"):  # neither the commit nor its checksum got written
        (commits / name).unlink(missing_ok=True)
    # While the stream is down, more events arrive, again with re-sent ones.
    write_file(paths.events, "events-c.jsonl", [event(i) for i in range(60, 90)] + [event(i) for i in range(40, 45)])

    again = run_stream(spark, settings, once=True)
    assert again.batches == 2  # the uncommitted batch ran again, then the new file
    ids = output_ids(spark, settings)
    assert len(ids) == len(set(ids)) == 90
    assert sorted(ids) == [f"e{i:04d}" for i in range(90)]


def test_malformed_events_are_quarantined_and_the_stream_goes_on(spark, settings) -> None:
    paths = StreamPaths.of(settings)
    write_file(
        paths.events,
        "events-mixed.jsonl",
        [
            event(1),
            "not json at all",
            json.dumps({"event_id": "x1", "user_id": "", "track_id": "0" * 22, "kind": "play"}),
            json.dumps({"event_id": "x2", "user_id": "u1", "track_id": "0" * 22, "kind": "teleported"}),
            json.dumps({"event_id": "x3", "user_id": "u1", "track_id": "0" * 22, "kind": "play", "weight": -2}),
            json.dumps({"event_id": "x4", "user_id": "u1", "track_id": "0" * 22, "kind": "play", "ts": "yesterday"}),
            "",
            json.dumps({"user_id": "u2", "track_id": "spotify:track:" + "1" * 22, "kind": "like"}),  # no event_id
            event(2, kind="liked"),
        ],
    )
    report = run_stream(spark, settings, once=True)
    assert report.rejected == {
        "invalid JSON": 1, "missing user_id": 1, "unknown kind": 1, "bad weight": 1, "bad ts": 1,
    }
    assert report.written == 3 and report.read == 8  # the blank line is not an event
    rows = {r["event_id"]: r for r in spark.read.parquet(str(paths.output)).collect()}
    derived = [r for k, r in rows.items() if k.startswith("sha:")]
    assert len(derived) == 1 and derived[0]["track_id"] == "1" * 22 and derived[0]["weight"] == 3.0
    assert rows["e0002"]["kind"] == "like"  # past-tense spellings are understood
    rejects = [json.loads(line) for p in paths.rejects.rglob("*.json") for line in p.read_text().splitlines()]
    assert sorted(r["reason"] for r in rejects) == ["bad ts", "bad weight", "invalid JSON", "missing user_id", "unknown kind"]
    assert any(r["raw"] == "not json at all" for r in rejects)

    write_file(paths.events, "events-later.jsonl", [event(3)])
    later = run_stream(spark, settings, once=True)
    assert later.written == 1 and later.n_rejected == 0


def test_stream_and_batch_reader_agree_on_the_interactions(spark, settings) -> None:
    paths = StreamPaths.of(settings)
    write_file(paths.events, "events.jsonl", (DATA / "events.jsonl").read_text(encoding="utf-8").splitlines())
    report = run_stream(spark, settings, once=True)
    batch, batch_report = read_app_events(spark, DATA / "events.jsonl", settings=settings)
    assert report.n_rejected == batch_report.n_rejected
    assert report.rejected == batch_report.rejected
    streamed = events_to_interactions(spark.read.parquet(str(paths.output)))
    key = lambda r: (r["user_id"], r["track_id"])  # noqa: E731
    got = sorted((*key(r), round(r["weight"], 9), r["ts"]) for r in streamed.collect())
    want = sorted((*key(r), round(r["weight"], 9), r["ts"]) for r in batch.collect())
    assert got == want and len(got) > 0


def test_one_stream_per_data_dir(spark, settings) -> None:
    paths = StreamPaths.of(settings)
    write_file(paths.events, "events-a.jsonl", [event(1)])
    with FileLock(paths.lock, purpose="stream", heartbeat_s=0):
        with pytest.raises(LockHeld):
            run_stream(spark, settings, once=True)
        assert ingest_pending(spark, settings) is None  # left to the running stream
    assert ingest_pending(spark, settings).written == 1
