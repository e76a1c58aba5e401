"""Periodic refresh: the lock, the quality gate, publishing, and crash recovery.

Real parts throughout: Spark (the shared session; one subprocess for the crash test), the
events stream, ALS training at rank 4 on the tiny planted data of test_train.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from engine.bundle.layout import current_version, list_versions
from engine.bundle.load import load_current
from engine.core.errors import InputError
from engine.core.locking import FileLock, LockHeld, LockInfo, process_start, read_lock
from engine.core.schemas import ARTIST_FACTORS, ARTIST_SIMILAR_INDPTR
from engine.refresh.gate import compare
from engine.refresh.loop import parse_duration, run_loop
from engine.refresh.round import LOCK_FILE, RefreshOptions, refresh_once
from engine.spark.schemas import tracks_schema
from engine.state.refresh_log import read_log
from engine.training.als import AlsParams
from engine.training.run import train
from engine.training.sources import SYNTHETIC_ARTIST_FACTORS, synthetic_share
from tests.engine.test_train import tiny_interactions, tiny_tracks
from tests.jvm import JAVA_OPTIONS

ROOT = Path(__file__).resolve().parents[2]


# -- the lock (no Spark) -------------------------------------------------------------------------


def write_lock(path: Path, **fields) -> None:
    info = {"pid": 1, "host": socket.gethostname(), "token": "old", "started_at": "2026-01-01T00:00:00+00:00", **fields}
    path.write_text(json.dumps(info))


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_lock_is_exclusive_and_released(tmp_path) -> None:
    path = tmp_path / "x.lock"
    with FileLock(path, purpose="refresh", heartbeat_s=0) as lock:
        assert read_lock(path).token == lock.info.token and lock.took_over is None
        with pytest.raises(LockHeld, match=f"pid {os.getpid()} on host"):
            FileLock(path).acquire()
    assert not path.exists()
    FileLock(path, heartbeat_s=0).acquire().release()


def test_stale_locks_are_taken_over(tmp_path) -> None:
    path = tmp_path / "x.lock"
    gone = dead_pid()
    write_lock(path, pid=gone, pid_start=None)
    lock = FileLock(path, heartbeat_s=0).acquire()
    assert lock.took_over is not None and lock.took_over.pid == gone
    lock.release()

    # a pid that now belongs to another process (reused): the start time gives it away
    write_lock(path, pid=os.getpid(), pid_start="1")
    assert process_start(os.getpid()) not in (None, "1")
    FileLock(path, heartbeat_s=0).acquire().release()

    # another host: judged by the heartbeat's age
    write_lock(path, host="elsewhere.example", pid=os.getpid())
    with pytest.raises(LockHeld, match="elsewhere.example"):
        FileLock(path, stale_after_s=900).acquire()
    old = time.time() - 3600
    os.utime(path, (old, old))
    lock = FileLock(path, stale_after_s=900, heartbeat_s=0).acquire()
    assert lock.took_over.host == "elsewhere.example"
    lock.release()


def test_heartbeat_and_release_after_a_takeover(tmp_path) -> None:
    path = tmp_path / "x.lock"
    lock = FileLock(path, heartbeat_s=0.05).acquire()
    old = time.time() - 3600
    os.utime(path, (old, old))
    deadline = time.monotonic() + 30
    while path.stat().st_mtime < old + 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert path.stat().st_mtime > old + 1  # the holder keeps its lock fresh
    write_lock(path, token="someone-else", pid=os.getpid())  # taken over meanwhile
    lock.release()
    assert read_lock(path).token == "someone-else"  # not removed from under the new holder


# -- pieces of the round -------------------------------------------------------------------------


def test_durations_and_gate_rule() -> None:
    assert parse_duration("6h") == 21600 and parse_duration("90s") == 90 and parse_duration("15m") == 900
    assert parse_duration("1d") == 86400 and parse_duration("30") == 30
    with pytest.raises(InputError, match="duration 'soon'"):
        parse_duration("soon")
    ok, why = compare({"ndcg@10": 0.19, "recall@50": 0.5}, {"ndcg@10": 0.2, "recall@50": 0.5}, tolerance=0.1)
    assert ok and "0.1900 vs current 0.2000" in why
    ok, why = compare({"ndcg@10": 0.17, "recall@50": 0.5}, {"ndcg@10": 0.2, "recall@50": 0.5}, tolerance=0.1)
    assert not ok and "ndcg@10 0.1700" in why and "recall@50" not in why
    assert not compare({"ndcg@10": None, "recall@50": 0.5}, {"ndcg@10": 0.2, "recall@50": 0.5})[0]


def test_loop_survives_a_failing_round_and_stops_on_request(caplog) -> None:
    caplog.set_level(logging.INFO, logger="engine")
    stop = threading.Event()
    calls, errors = [], []

    def round_fn():
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("the JVM died")
        if len(calls) == 3:
            stop.set()

    n = run_loop(round_fn, every_s=0.0, stop=stop, on_error=errors.append)
    assert n == 3 and len(errors) == 1
    assert any("round 2 failed: RuntimeError: the JVM died" in line for line in caplog.messages)


# -- rounds with Spark ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world_template(spark, tmp_path_factory) -> tuple[Path, str]:
    """Catalogue, old listening and a model published on it, built once per module."""
    from engine.core.config import Settings

    root = tmp_path_factory.mktemp("world")
    s = Settings.from_env({}, env_file=None).with_overrides(data_dir=root / "data", models_dir=root / "models")
    spark.createDataFrame(tiny_tracks(), schema=tracks_schema()).write.parquet(str(s.parquet_dir / "tracks"))
    spark.createDataFrame(tiny_interactions()).write.parquet(str(s.parquet_dir / "interactions_demo"))
    report, _ = train(
        spark, s, interactions=spark.read.parquet(str(s.parquet_dir / "interactions_demo")),
        tracks=spark.read.parquet(str(s.parquet_dir / "tracks")),
        params=AlsParams(rank=4, max_iter=5, reg_param=0.05, alpha=5.0, weight_transform="log1p"), k=3, publish_to=s.models_dir,
    )
    return root, report.version


@pytest.fixture()
def world(world_template, settings) -> str:
    """A private copy of the template world in ``settings``' directories (file times kept, so the
    old listening stays older than the model); returns the serving version."""
    root, version = world_template
    shutil.copytree(root / "data", settings.data_dir, dirs_exist_ok=True)
    shutil.copytree(root / "models", settings.models_dir, dirs_exist_ok=True)
    return version


def new_listening(settings, *, users: range = range(30), per_user: int = 6, seed: int = 3) -> int:
    """Listeners discover ``per_user`` more tracks of their own style (app events files)."""
    have = tiny_interactions().groupby("user_id")["track_id"].apply(set)
    rng = np.random.default_rng(seed)
    lines = []
    for u in users:
        fresh = [f"{i:022d}" for i in range(u % 3, 60, 3) if f"{i:022d}" not in have[f"u{u}"]]
        for t in rng.choice(fresh, size=per_user, replace=False):
            lines.append(json.dumps({"event_id": uuid.uuid4().hex, "user_id": f"u{u}", "track_id": str(t),
                                     "kind": "play", "weight": float(rng.integers(1, 20)), "ts": "2026-03-01T10:00:00Z"}))
    settings.events_dir.mkdir(parents=True, exist_ok=True)
    (settings.events_dir / f"events-{uuid.uuid4().hex}.jsonl").write_text("\n".join(lines) + "\n")
    return len(lines)


def randomized_train(*args, **kwargs):
    """The real training, then its item factors replaced by noise: a deliberately worse model."""
    report, parts = train(*args, **kwargs)
    f = parts["item_factors"]
    noise = np.random.default_rng(0).normal(size=f.shape).astype(np.float32)
    parts["item_factors"] = noise * (np.abs(f).sum(axis=1, keepdims=True) > 0)
    return report, parts


def test_a_worse_candidate_is_refused_and_the_current_model_stays(spark, settings, world) -> None:
    v0 = world
    new_listening(settings)
    record = refresh_once(
        settings, spark_factory=lambda: spark, options=RefreshOptions(min_test_users=5),
        train_fn=randomized_train,
    )
    assert record.decision == "kept", record.reason
    assert current_version(settings.models_dir) == v0 == record.serving_version
    assert list_versions(settings.models_dir) == [v0]
    assert not list(settings.models_dir.glob(".tmp-*"))  # the candidate's scratch copy is gone
    cand, cur = record.metrics["candidate"], record.metrics["current"]
    assert cand["ndcg@10"] < 0.95 * cur["ndcg@10"] and cur["n_eval_users"] == record.data["n_test_users"] == 30
    assert "candidate worse than current" in record.reason
    (logged,) = read_log(settings.models_dir)
    assert logged["decision"] == "kept" and logged["metrics"]["current"]["ndcg@10"] == cur["ndcg@10"]
    assert logged["data"]["n_new_rows"] > 0 and logged["data"]["n_test_pairs"] == 30


def test_a_good_candidate_is_published_and_then_nothing_is_new(spark, settings, world) -> None:
    v0 = world
    n_events = new_listening(settings)
    record = refresh_once(settings, spark_factory=lambda: spark, options=RefreshOptions(min_test_users=5, tolerance=0.5))
    assert record.decision == "published", record.reason
    v1 = record.published_version
    assert current_version(settings.models_dir) == v1 != v0
    assert record.ingest["written"] == n_events
    published = load_current(settings.models_dir)
    manifest = published.manifest
    assert manifest["data"]["arrival_watermark_us"] > 0 and "refresh_gate" in manifest["metrics"]
    assert manifest["data"]["sources"]["stream"] > 0
    # mostly the demo listeners (240 rows against ~150 app events): similar artists, no artist factors
    assert synthetic_share(manifest["data"]["sources"]) > 0.5
    assert ARTIST_FACTORS not in published.extra and ARTIST_SIMILAR_INDPTR in published.extra
    assert published.params["artists"]["factors"] == SYNTHETIC_ARTIST_FACTORS

    again = refresh_once(settings, spark_factory=lambda: spark, options=RefreshOptions(min_test_users=5))
    assert again.decision == "skipped" and "no new interactions" in again.reason

    new_listening(settings, users=range(2), seed=9)  # two listeners only: too little to judge
    few = refresh_once(settings, spark_factory=lambda: spark, options=RefreshOptions(min_test_users=5))
    assert few.decision == "skipped" and "too little new listening" in few.reason
    assert current_version(settings.models_dir) == v1
    assert [r["decision"] for r in read_log(settings.models_dir)] == ["published", "skipped", "skipped"]


CRASHY_REFRESH = """
import os, sys, time
from pathlib import Path
import engine.bundle.publish as bundle

def pause(step):
    if step == os.environ.get("PAUSE_AT"):
        Path(os.environ["PAUSE_DIR"], f"{os.getpid()}.paused").write_text(step)
        while True:  # wait here until the test kills us
            time.sleep(1)

bundle._checkpoint = pause
from engine.__main__ import main
sys.exit(main(sys.argv[1:]))
"""


def test_two_refreshers_one_trains_and_a_crash_mid_publish_recovers(spark, settings, world, tmp_path) -> None:
    v0 = world
    new_listening(settings)
    script = tmp_path / "crashy_refresh.py"
    script.write_text(CRASHY_REFRESH)
    pause_dir = tmp_path / "paused"
    pause_dir.mkdir()
    env = {
        **os.environ, "PYTHONPATH": str(ROOT), "DATA_DIR": str(settings.data_dir), "MODELS_DIR": str(settings.models_dir),
        "SPARK_MASTER": "local[1]", "SPARK_DRIVER_MEMORY": "1g", "SPARK_SHUFFLE_PARTITIONS": "2",
        "PAUSE_AT": "written", "PAUSE_DIR": str(pause_dir),
        "JDK_JAVA_OPTIONS": JAVA_OPTIONS,  # the refreshers' JVMs as the session's (tests/jvm.py)
    }
    cmd = [sys.executable, str(script), "refresh", "--min-test-users", "5", "--tolerance", "0.9"]
    logs = [tmp_path / f"refresher-{i}.log" for i in range(2)]
    procs = [
        subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True)
        for log in logs
    ]
    try:
        deadline = time.monotonic() + 900
        while not (list(pause_dir.iterdir()) and any(p.poll() is not None for p in procs)):
            if time.monotonic() > deadline or all(p.poll() is not None for p in procs):
                pytest.fail("refreshers did not reach the expected state:\n" + "\n".join(log.read_text()[-3000:] for log in logs))
            time.sleep(0.5)
        (marker,) = pause_dir.iterdir()
        winner = next(p for p in procs if p.pid == int(marker.stem))
        loser = next(p for p in procs if p is not winner)
        assert loser.returncode == 75
        assert "another refresh holds the lock" in logs[procs.index(loser)].read_text()
        assert winner.poll() is None and current_version(settings.models_dir) == v0

        os.killpg(winner.pid, signal.SIGKILL)  # the refresher dies between writing and publishing
        winner.wait(timeout=60)
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=60)

    assert current_version(settings.models_dir) == v0
    assert load_current(settings.models_dir).version == v0  # CURRENT names a complete, verified bundle
    assert list(settings.models_dir.glob(".tmp-*"))  # the half-published candidate it left behind
    assert read_lock(settings.models_dir / LOCK_FILE).pid == winner.pid

    record = refresh_once(settings, spark_factory=lambda: spark, options=RefreshOptions(min_test_users=5, tolerance=0.9))
    assert record.lock["took_over"]["pid"] == winner.pid
    assert record.decision == "published", record.reason
    assert current_version(settings.models_dir) == record.published_version != v0
    assert not (settings.models_dir / LOCK_FILE).exists()
    log = read_log(settings.models_dir)
    assert [r["decision"] for r in log] == ["skipped", "published"]  # the killed round wrote nothing
    assert LockInfo(**log[0]["lock"]["held_by"]).pid == winner.pid
