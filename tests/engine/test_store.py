"""engine.state.store (SQLite app state) and engine.state.events (JSON-lines events), on real files."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.state.events import (
    KIND_WEIGHTS,
    ListeningEvent,
    forget_user,
    read_events,
    write_events,
)
from engine.state.store import Event, Store


@pytest.fixture()
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "app.sqlite")


def test_wal_mode_and_tables(store: Store) -> None:
    con = sqlite3.connect(store.path)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"events", "feedback", "playlists", "similar_tracks", "meta"} <= tables
    indexes = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert "similar_by_score" in indexes


def test_user_key_is_salted_stable_and_not_the_id(tmp_path: Path) -> None:
    a = Store(tmp_path / "a.sqlite")
    b = Store(tmp_path / "b.sqlite")
    key = a.user_key_for("alice")
    assert key == a.user_key_for("alice")  # stable within one installation
    assert key != a.user_key_for("bob")
    assert key != b.user_key_for("alice")  # other salt, other key
    assert "alice" not in key and key.startswith("sp:")
    assert Store(tmp_path / "a.sqlite").user_key_for("alice") == key  # salt persisted
    assert Store.new_session_key() != Store.new_session_key()


def test_feedback_latest_wins_and_zero_clears(store: Store) -> None:
    store.set_feedback("u1", target="track", target_id="t1", value=1)
    store.set_feedback("u1", target="track", target_id="t1", value=-1)
    store.set_feedback("u1", target="artist", target_id="Artist 'X'; DROP TABLE feedback", value=-1)
    store.set_feedback("u2", target="track", target_id="t9", value=1)
    fb = store.feedback("u1")
    assert fb.disliked_tracks == {"t1"} and not fb.liked_tracks
    assert fb.disliked_artists == {"Artist 'X'; DROP TABLE feedback"}
    store.set_feedback("u1", target="track", target_id="t1", value=0)
    assert not store.feedback("u1").disliked_tracks
    assert store.feedback("u2").liked_tracks == {"t9"}
    with pytest.raises(ValueError, match="target"):
        store.set_feedback("u1", target="album", target_id="x", value=1)
    with pytest.raises(ValueError, match="value"):
        store.set_feedback("u1", target="track", target_id="x", value=5)


def test_events_playlists_and_forget(store: Store) -> None:
    events = [Event(f"e{i}", "u1", f"t{i}", "like", 3.0, 100.0 + i) for i in range(3)]
    assert store.add_events(events + [Event("x", "u2", "t1", "save", 2.0, 1.0)]) == 4
    assert store.add_events(events[:1]) == 0  # same id is not stored twice
    assert [e.track_id for e in store.events("u1")] == ["t0", "t1", "t2"]
    with pytest.raises(ValueError, match="kind"):
        store.add_events([Event("y", "u1", "t1", "skipped", 0.0, 1.0)])
    store.save_playlist("u1", playlist_id="p1", name="Mine", url="https://x/p1", n_tracks=20, public=False)
    store.save_playlist("u1", playlist_id="p1", name="Mine v2", url="https://x/p1", n_tracks=25, public=True)
    (saved,) = store.playlists("u1")
    assert (saved.name, saved.n_tracks, saved.public) == ("Mine v2", 25, True)
    store.set_feedback("u1", target="track", target_id="t1", value=1)

    counts = store.forget("u1")
    assert counts == {"events": 3, "feedback": 1, "playlists": 1}
    assert not store.events("u1") and not store.playlists("u1") and not store.feedback("u1").liked_tracks
    assert len(store.events("u2")) == 1  # someone else's data stays


def test_similar_table_orders_by_score(store: Store) -> None:
    store.put_similar([("a", "b", 0.2), ("a", "c", 0.9), ("a", "d", 0.5)], method="lsh")
    store.put_similar([("a", "z", 1.0)], method="als")
    assert store.similar("a", method="lsh", limit=2) == [("c", 0.9), ("d", 0.5)]
    assert store.table_counts(["similar_tracks"]) == {"similar_tracks": 4}


def test_events_files_roundtrip_and_forget(tmp_path: Path) -> None:
    events_dir = tmp_path / "events"
    now = datetime(2026, 1, 31, 12, tzinfo=UTC)
    first = write_events(events_dir, [ListeningEvent.new("u1", "t1", "like", now=now),
                                      ListeningEvent.new("u2", "t2", "save", now=now)])
    write_events(events_dir, [ListeningEvent.new("u1", "t3", "recommended")])
    assert write_events(events_dir, []) is None
    assert first is not None and first.suffix == ".jsonl"
    record = json.loads(first.read_text().splitlines()[0])
    assert list(record) == ["event_id", "user_id", "track_id", "kind", "weight", "ts"]
    assert record["weight"] == KIND_WEIGHTS["like"] and record["ts"].startswith("2026-01-31T12:00:00")
    assert not list(events_dir.glob(".*"))  # no temp files left behind
    assert [(e.user_id, e.track_id) for e in read_events(events_dir)] == [("u1", "t1"), ("u2", "t2"), ("u1", "t3")]

    assert forget_user(events_dir, "u1") == 2
    assert [(e.user_id, e.track_id) for e in read_events(events_dir)] == [("u2", "t2")]
    assert len(list(events_dir.glob("*.jsonl"))) == 1  # the file left empty was removed
    with pytest.raises(ValueError, match="kind"):
        ListeningEvent.new("u1", "t1", "skipped")


def test_event_vocabulary_matches_the_engines_reader() -> None:
    """The app writes what ``engine.ingest.readers.events`` reads: same kinds, same default weights."""
    from engine.ingest.readers import events as readers_events

    assert set(KIND_WEIGHTS) == set(readers_events.POSITIVE_KINDS) | set(readers_events.NON_POSITIVE_KINDS) - {"skip"}
    for kind, weight in readers_events.POSITIVE_KINDS.items():
        assert KIND_WEIGHTS[kind] == weight
    assert all(KIND_WEIGHTS[k] <= 0 for k in ("dislike", "recommended", "exclude"))
    assert set(readers_events.CANCELLING_KINDS) == {k for k, w in KIND_WEIGHTS.items() if w < 0}


@pytest.mark.slow
def test_app_event_files_are_read_by_the_engine(spark, settings, tmp_path: Path) -> None:
    """Files written by write_events go through the engine's Spark reader without rejects."""
    from engine.ingest.readers.events import read_app_events

    events_dir = settings.events_dir
    write_events(events_dir, [ListeningEvent.new("u1", "t1", "play"), ListeningEvent.new("u1", "t1", "like"),
                              ListeningEvent.new("u1", "t2", "recommended"), ListeningEvent.new("u2", "t3", "save")])
    write_events(events_dir, [ListeningEvent.new("u2", "t3", "dislike")])
    interactions, report = read_app_events(spark, events_dir, settings=settings)
    rows = {(r["user_id"], r["track_id"]): r["weight"] for r in interactions.collect()}
    assert rows == {("u1", "t1"): KIND_WEIGHTS["play"] + KIND_WEIGHTS["like"]}  # u2's save was disliked later
    assert report.n_rejected == 0


def test_user_key_salted_with_the_app_secret_survives_a_new_database(tmp_path: Path) -> None:
    a, b = Store(tmp_path / "a.sqlite"), Store(tmp_path / "b.sqlite")
    key = a.user_key_for("alice", secret="app-secret")
    assert key == b.user_key_for("alice", secret="app-secret")  # a lost file (ephemeral disk), a replica
    assert key != a.user_key_for("alice", secret="other-secret") and key != a.user_key_for("alice")
    assert key.startswith("sp:") and "alice" not in key and len(key) == 3 + 32
