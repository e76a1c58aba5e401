"""``python -m engine train`` on a real Spark standalone cluster gives the local-mode bundle.

``scripts/cluster.sh`` (what ``make cluster-up`` runs) starts a master and two one-core workers
from the pip-installed Spark on free ports, with pid files and logs in a temporary folder. The
same training command then runs twice in subprocesses — ``SPARK_MASTER=local[2]`` and
``SPARK_MASTER=spark://127.0.0.1:<port>`` — so the test session's shared local SparkSession
is untouched. The cluster is stopped afterwards, also when the test fails.

Tolerance: both runs use the same seed, the same StringIndexer ids (deterministic order) and
the same number of ALS blocks (``local[2]`` and 2 workers x 1 core both give a default
parallelism of 2), so Spark solves the same normal equations from the same initial factors;
only the order of floating-point sums inside a shuffle could differ (measured: the factors
were bit-identical). We allow 1e-4 of the largest factor entry and a cosine of 0.9999 per
item — far above float32 round-off, far below what a different seed or block layout gives
(an arbitrary rotation of the factor space: cosines anywhere in [-1, 1]).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.bundle.load import load_current
from engine.core.schemas import AUDIO_FEATURES
from engine.ingest.demo_listeners import make_demo_listeners
from engine.serving.options import Options
from engine.serving.recommender import Recommender
from tests.jvm import JAVA_OPTIONS

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "cluster.sh"
TIMEOUT = 600  # seconds per subprocess; generous because the 2 cores are shared
#: Every JVM here (the two drivers, the master, the workers and their executors) gets the tests'
#: JVM options (tests/jvm.py) as the session's own SparkSession does: the java launcher reads this
#: variable, and the workers pass it on to the executors they start.
JAVA_ENV = {"JDK_JAVA_OPTIONS": JAVA_OPTIONS}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tracks(n: int = 240, seed: int = 0) -> pd.DataFrame:
    """A canonical tracks table with four planted styles (audio, era, genre)."""
    rng = np.random.default_rng(seed)
    style = np.arange(n) % 4
    rows = []
    for i in range(n):
        feats = {f: float(0.1 + 0.25 * style[i] + 0.05 * rng.normal()) for f in AUDIO_FEATURES}
        feats.update(key=int(rng.integers(0, 12)), mode=1, time_signature=4, tempo=80.0 + 30 * style[i],
                     loudness=-20.0 + 4 * style[i])
        rows.append({
            "track_id": f"t{i:021d}", "name": f"Song {i}", "artist_ids": [f"a{i % 30}"],
            "artist_names": [f"Artist {i % 30}"], "release_date": str(1960 + 15 * style[i]),
            "release_year": 1960 + 15 * int(style[i]) + int(rng.integers(0, 10)),
            "popularity": int(rng.integers(0, 100)), "duration_ms": 200_000, "explicit": False,
            **feats, "genres": [f"g{style[i]}"],
        })
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tracks and demo-distributed listening (200 listeners) as parquet, like ``prepare`` writes."""
    root = tmp_path_factory.mktemp("cluster-data")
    tracks = _tracks()
    interactions, _ = make_demo_listeners(tracks, n_listeners=200, seed=3)
    (root / "tracks").mkdir()
    (root / "interactions").mkdir()
    tracks.to_parquet(root / "tracks" / "part-00000.parquet", index=False)
    interactions.to_parquet(root / "interactions" / "part-00000.parquet", index=False)
    return root


def _cluster_env(cluster_dir: Path, port: int) -> dict[str, str]:
    return {**os.environ, "PY": sys.executable, "CLUSTER_DIR": str(cluster_dir), "SPARK_MASTER_PORT": str(port),
            "SPARK_MASTER_WEBUI_PORT": "0", "SPARK_WORKER_WEBUI_PORT": "0", "SPARK_LOCAL_IP": "127.0.0.1",
            "CLUSTER_WAIT_S": "180", **JAVA_ENV}


def _train(master: str, data: Path, models: Path) -> subprocess.Popen:
    env = {**os.environ, "SPARK_MASTER": master, "DATA_DIR": str(data), "MODELS_DIR": str(models),
           "SPARK_SHUFFLE_PARTITIONS": "4", "SPARK_DRIVER_MEMORY": "1g", "SPARK_LOCAL_IP": "127.0.0.1",
           "PYSPARK_PYTHON": sys.executable, "SPARK_CHECKPOINT_DIR": "", **JAVA_ENV}
    cmd = [sys.executable, "-m", "engine", "train", "--interactions", str(data / "interactions"),
           "--tracks", str(data / "tracks"), "--rank", "8", "--max-iter", "8", "--k", "4"]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _finish(proc: subprocess.Popen, what: str) -> str:
    out, _ = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 0, f"{what} training failed:\n{out[-4000:]}"
    return out


@pytest.mark.skipif(shutil.which("java") is None, reason="needs a Java runtime (make java)")
def test_training_on_a_standalone_cluster_matches_local_mode(data: Path, tmp_path: Path) -> None:
    cluster_dir, port = tmp_path / "cluster", _free_port()
    env = _cluster_env(cluster_dir, port)
    # Local mode first, in the background: it overlaps with the cluster's start-up.
    local = _train("local[2]", data, tmp_path / "models-local")
    pids: list[int] = []
    try:
        up = subprocess.run(["bash", str(SCRIPT), "up"], env=env, capture_output=True, text=True, timeout=TIMEOUT)
        assert up.returncode == 0, up.stdout + up.stderr
        pids = [int(p.read_text()) for p in sorted(cluster_dir.glob("*.pid"))]
        assert len(pids) == 3  # master + 2 workers
        clustered = _finish(_train(f"spark://127.0.0.1:{port}", data, tmp_path / "models-cluster"), "cluster")
        # The job really ran on the workers: each one launched executors for it.
        for worker in ("worker-1", "worker-2"):
            assert list((cluster_dir / "work" / worker).glob("app-*")), f"{worker} ran no executor"
    except BaseException:
        local.kill()
        raise
    finally:  # stop the cluster whatever happened
        down = subprocess.run(["bash", str(SCRIPT), "down"], env=env, capture_output=True, text=True, timeout=120)
    assert down.returncode == 0, down.stderr
    assert not list(cluster_dir.glob("*.pid"))
    for pid in pids:
        ps = subprocess.run(["ps", "-p", str(pid), "-o", "args="], capture_output=True, text=True)
        assert "org.apache.spark.deploy" not in ps.stdout, f"cluster daemon {pid} still running"
    _finish(local, "local")
    assert "published" in clustered

    a = load_current(tmp_path / "models-local")
    b = load_current(tmp_path / "models-cluster")
    assert a.items["track_id"].tolist() == b.items["track_id"].tolist()
    assert (a.items["has_factors"].to_numpy() == b.items["has_factors"].to_numpy()).all()
    ya, yb = np.asarray(a.item_factors, dtype=np.float64), np.asarray(b.item_factors, dtype=np.float64)
    assert np.abs(ya - yb).max() <= 1e-4 * np.abs(ya).max()
    rows = a.items["has_factors"].to_numpy()
    cos = (ya[rows] * yb[rows]).sum(1) / (np.linalg.norm(ya[rows], axis=1) * np.linalg.norm(yb[rows], axis=1))
    assert cos.min() > 0.9999
    # Same KMeans clusters (same seed, same partitioning), and the same top-10 for listeners.
    assert (a.items["cluster"].to_numpy() == b.items["cluster"].to_numpy()).mean() >= 0.99
    ra, rb = Recommender(a), Recommender(b)
    history = pd.read_parquet(data / "interactions")
    for user, rows_u in list(history.groupby("user_id"))[:20]:
        h = dict(zip(rows_u["track_id"], rows_u["weight"]))
        assert ra.recommend(h, Options(k=10)).track_ids == rb.recommend(h, Options(k=10)).track_ids, user
