"""engine.state.store (SQLite app state) and engine.state.events (JSON-lines events), on real files."""

from __future__ import annotations

import json
import multiprocessing
import os
import sqlite3
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from engine.core.locking import FileLock, LockHeld, flock_exclusive
from engine.state.events import (
    COMPACT_MIN_AGE_S,
    KIND_WEIGHTS,
    LOCK_FILE,
    ListeningEvent,
    compact_events,
    forget_user,
    read_events,
    write_events,
)
from engine.state.store import STORE_SCHEMA_VERSION, Event, Store


@pytest.fixture()
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "app.sqlite")


def test_wal_mode_and_tables(store: Store) -> None:
    con = sqlite3.connect(store.path)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    kinds = dict(con.execute("SELECT name, type FROM sqlite_master"))
    assert all(kinds.get(t) == "table" for t in ("events", "feedback", "playlists", "meta", "track_topics"))
    assert kinds["similar_tracks"] == "view"  # over one table per method, none yet
    assert con.execute("SELECT COUNT(*) FROM similar_tracks").fetchone()[0] == 0
    assert con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == str(STORE_SCHEMA_VERSION)


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


# -- concurrency: bulk writes, schema creation -------------------------------------------------


def test_schema_1_similar_table_is_moved_to_one_table_per_method(tmp_path: Path) -> None:
    path = tmp_path / "app.sqlite"
    with sqlite3.connect(path) as con:  # the layout of schema version 1
        con.execute("CREATE TABLE similar_tracks (track_id TEXT NOT NULL, other_id TEXT NOT NULL, score REAL NOT NULL, "
                    "method TEXT NOT NULL, PRIMARY KEY (track_id, method, other_id))")
        con.executemany("INSERT INTO similar_tracks VALUES (?, ?, ?, ?)",
                        [("a", "b", 0.5, "minhash"), ("a", "c", 0.9, "minhash"), ("a", "d", 0.7, "word2vec")])
    store = Store(path)
    assert store.similar_methods() == ["minhash", "word2vec"]
    assert store.similar_all("a") == [("c", 0.9, "minhash"), ("b", 0.5, "minhash"), ("d", 0.7, "word2vec")]
    assert Store(path).similar("a", method="word2vec") == [("d", 0.7)]  # opening again changes nothing


def test_replace_similar_writes_in_chunks_and_readers_see_the_old_rows_until_the_swap(store: Store) -> None:
    store.replace_similar([("t", "old1", 0.9), ("t", "old2", 0.8)], method="minhash", pause_s=0)
    store.put_similar([("t", "w2v", 0.5)], method="word2vec")
    other = Store(store.path)
    other.busy_timeout_s = 0.0  # an app write that would fail at once if the lock were held
    seen: list[tuple] = []

    def rows():
        for i in range(10):
            if i == 4:  # two chunks of 2 are committed; the bulk writer holds no lock between chunks
                with sqlite3.connect(store.path) as con:
                    staged = con.execute("SELECT COUNT(*) FROM similar_new__minhash").fetchone()[0]
                seen.append((staged, other.similar("t", method="minhash"), other.similar_methods()))
                other.set_feedback("u1", target="track", target_id="t", value=1)
            yield ("t", f"new{i}", 1.0 - i / 100)

    assert store.replace_similar(rows(), method="minhash", chunk_rows=2, pause_s=0) == 10
    assert seen == [(4, [("old1", 0.9), ("old2", 0.8)], ["minhash", "word2vec"])]
    assert [o for o, _ in store.similar("t", method="minhash", limit=50)] == [f"new{i}" for i in range(10)]
    assert store.similar("t", method="word2vec") == [("w2v", 0.5)]  # other methods untouched
    assert store.feedback("u1").liked_tracks == {"t"}
    with sqlite3.connect(store.path) as con:
        names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {n for n in names if n.startswith("similar")} == {"similar__minhash", "similar__word2vec"}


def test_replace_similar_beside_app_writes_and_readers(store: Store) -> None:
    """A real concurrent bulk write: every read sees the whole old list or the whole new one,
    and app writes go through meanwhile."""
    old = [("t", f"old{i}", 0.5) for i in range(3)]
    new = [("t", f"new{i}", 0.9) for i in range(3)] + [(f"x{i}", "t", 0.1) for i in range(3000)]
    store.replace_similar(old, method="minhash", pause_s=0)
    done = threading.Event()
    errors: list[BaseException] = []

    def bulk() -> None:
        try:
            store.replace_similar(new, method="minhash", chunk_rows=300, pause_s=0.01)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            done.set()

    worker = threading.Thread(target=bulk)
    worker.start()
    reads, writes = set(), 0
    while not done.is_set() or not writes:
        reads.add(tuple(o for o, _ in store.similar("t", method="minhash")))
        store.add_events([Event(f"e{writes}", "u1", "t", "play", 1.0, float(writes))])
        writes += 1
    worker.join()
    reads.add(tuple(o for o, _ in store.similar("t", method="minhash")))
    assert not errors
    assert reads <= {("old0", "old1", "old2"), ("new0", "new1", "new2")}
    assert ("new0", "new1", "new2") in reads
    assert len(store.events("u1")) == writes


def test_bulk_writers_of_one_method_take_turns(store: Store) -> None:
    lock = FileLock(store.path.with_name(f".{store.path.name}.similar_new__minhash.lock"))
    with lock, pytest.raises(LockHeld, match="is held by pid"):
        store.replace_similar([("a", "b", 1.0)], method="minhash")
    with pytest.raises(ValueError, match="method"):
        store.replace_similar([("a", "b", 1.0)], method="Robert'); DROP TABLE events;--")


def _open_fresh_stores(paths: list[str], barrier: Any, results: Any) -> None:
    """One of several processes opening each fresh store at the same moment (spawned)."""
    for path in paths:
        barrier.wait()
        try:
            store = Store(path)
            store.set_feedback("u", target="track", target_id="t", value=1)
            results.put((path, store.user_key_for("alice")))
        except Exception as exc:  # reported by the parent
            results.put((path, f"error: {exc!r}"))


def test_a_fresh_store_opened_by_8_processes_at_once(tmp_path: Path) -> None:
    """Schema creation races: WAL switched once, tables under BEGIN IMMEDIATE, one salt."""
    ctx = multiprocessing.get_context("spawn")  # no fork of a process that may hold a JVM
    paths = [str(tmp_path / f"app{i}.sqlite") for i in range(24)]
    barrier, results = ctx.Barrier(8), ctx.Queue()
    procs = [ctx.Process(target=_open_fresh_stores, args=(paths, barrier, results)) for _ in range(8)]
    for p in procs:
        p.start()
    got = [results.get(timeout=120) for _ in range(8 * len(paths))]
    for p in procs:
        p.join(timeout=60)
    assert [r for r in got if r[1].startswith("error")] == []
    for path in paths:
        assert len({key for p, key in got if p == path}) == 1  # every process got the same salt
        with sqlite3.connect(path) as con:
            assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert con.execute("SELECT COUNT(*) FROM meta WHERE key = 'salt'").fetchone()[0] == 1


# -- events files: "Forget me" under a lock, compaction ----------------------------------------


def _event_lines(events_dir: Path) -> list[str]:
    return sorted(line for p in events_dir.glob("*.jsonl") for line in p.read_text(encoding="utf-8").splitlines())


def _forget_after(events_dirs: list[str], user_id: str, barrier: Any, results: Any) -> None:
    """One of two processes forgetting a listener at the same moment, in each dir (spawned)."""
    for events_dir in events_dirs:
        barrier.wait()
        results.put((events_dir, forget_user(Path(events_dir), user_id)))


def test_two_processes_forgetting_at_once_both_stay_forgotten(tmp_path: Path) -> None:
    """Each rewrite reads a file and replaces it; without the lock the second rewrite would put
    back the lines the first had just removed."""
    dirs = [tmp_path / f"events{i}" for i in range(3)]
    for events_dir in dirs:
        for i in range(100):
            write_events(events_dir, [ListeningEvent.new(u, f"t{i}", "play") for u in ("sp:aaaa", "sp:bbbb", "sp:cccc")])
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_forget_after, args=([str(d) for d in dirs], u, barrier, results))
             for u in ("sp:aaaa", "sp:bbbb")]
    for p in procs:
        p.start()
    removed = [results.get(timeout=120) for _ in range(2 * len(dirs))]
    for p in procs:
        p.join(timeout=60)
    assert [n for _, n in removed] == [100] * len(removed)
    for events_dir in dirs:
        users = [json.loads(line)["user_id"] for line in _event_lines(events_dir)]
        assert users == ["sp:cccc"] * 100  # both forgotten, nobody else touched


def test_small_old_files_are_merged_line_for_line_and_forget_still_works(tmp_path: Path) -> None:
    events_dir = tmp_path / "events"
    for i in range(70):
        write_events(events_dir, [ListeningEvent.new("sp:aaaa", f"t{i}", "play"), ListeningEvent.new("sp:bbbb", f"t{i}", "like")])
    before = _event_lines(events_dir)
    old = time.time() - 2 * COMPACT_MIN_AGE_S
    for path in events_dir.glob("*.jsonl"):
        os.utime(path, (old, old))
    names = sorted(p.name for p in events_dir.glob("*.jsonl"))
    young = write_events(events_dir, [ListeningEvent.new("sp:aaaa", "young", "save")])  # triggers compaction
    assert young is not None and young.exists()  # too young to merge: a stream may be about to read it
    files = sorted(events_dir.glob("*.jsonl"))
    assert len(files) == 2 and files[0].name == names[0].removesuffix(".jsonl") + "-merged.jsonl"
    assert _event_lines(events_dir) == sorted([*before, *young.read_text().splitlines()])  # byte for byte
    assert [e.track_id for e in read_events(events_dir)][:3] == ["t0", "t0", "t1"]  # time order kept

    assert forget_user(events_dir, "sp:aaaa") == 71
    assert {e.user_id for e in read_events(events_dir)} == {"sp:bbbb"}
    assert compact_events(events_dir, after_files=1) == 0  # one file left to merge: nothing to do


def test_compaction_gives_way_to_a_forget_in_progress(tmp_path: Path) -> None:
    events_dir = tmp_path / "events"
    for i in range(3):
        write_events(events_dir, [ListeningEvent.new("sp:aaaa", f"t{i}", "play")])
    with flock_exclusive(events_dir / LOCK_FILE):  # what forget_user holds while it rewrites
        with pytest.raises(LockHeld):
            compact_events(events_dir, wait=False, after_files=2, min_age_s=0)
        assert write_events(events_dir, [ListeningEvent.new("sp:aaaa", "t9", "play")]) is not None  # never waits
    assert compact_events(events_dir, after_files=2, min_age_s=0) == 4
    assert len(list(events_dir.glob("*.jsonl"))) == 1
