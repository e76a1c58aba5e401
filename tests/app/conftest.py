"""Fixtures for the app tests: a bundle over the fake Spotify's catalogue, demo listeners, env.

The bundle's items are the fake server's generated catalogue (real-shaped Spotify ids, so
a signed-in listener's history matches and embed players are offered), with the planted
factor groups of ``tests.factories.random_bundle_parts``. It is published once per session;
each test gets its own data directory (SQLite store, events) through the environment.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import streamlit as st

from engine.bundle.publish import publish_bundle
from engine.core.config import Settings
from engine.state.refresh_log import RefreshRecord, append_log
from tests.factories import random_bundle_parts
from tests.fake_spotify.seed import build_seed

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
TIMEOUT = 60  # seconds; generous because the 2 cores are shared, never a measurement
DEMO_USERS = ("demo:001", "demo:002")


def seed_bundle_parts(seed: int = 7) -> dict[str, Any]:
    """Bundle parts whose items are the fake Spotify's (generated) catalogue tracks."""
    tracks = [t for t in build_seed(catalogue=None, seed=seed).tracks.values() if t.in_catalogue]
    parts = random_bundle_parts(n_items=len(tracks), rank=8, n_groups=4, n_without_factors=20, seed=seed)
    items = parts["items"]
    items["track_id"] = [t.id for t in tracks]
    items["name"] = [t.name for t in tracks]
    items["artists"] = [list(t.artist_names) for t in tracks]
    items["artist_ids"] = [list(t.artist_ids) for t in tracks]
    items["year"] = np.array([t.year for t in tracks], dtype="int32")
    items["explicit"] = [t.explicit for t in tracks]
    # Energy follows the cluster so that the energy control visibly changes the list.
    items["energy"] = (items["cluster"] + np.linspace(0.05, 0.2, len(items))) / 4.0
    parts["params"] = dict(parts["params"], rank=8)
    parts["data_stats"] = {"source": "fake Spotify catalogue (tests)", "n_items": len(items)}
    parts["metrics"] = {"ndcg@10": 0.123, "recall@50": 0.456}
    parts["tables"] = demo_tables(items)
    return parts


@pytest.fixture(scope="session")
def app_models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """A published models directory (shared, read-only) and the parts it was made from."""
    models = tmp_path_factory.mktemp("app-models")
    parts = seed_bundle_parts()
    publish_bundle(models, **parts)
    # the log as `engine refresh` writes it (engine.state.refresh_log.RefreshRecord)
    for record in (
        RefreshRecord(started_at="2026-01-30T06:00:00+00:00", decision="published", reason="better than current",
                      published_version="v1", duration_s=61.2),
        RefreshRecord(started_at="2026-01-30T12:00:00+00:00", decision="kept", reason="worse than current", duration_s=58.0),
    ):
        append_log(models, record)
    return models, parts


def demo_tables(items: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Two synthetic demo listeners in ``engine.ingest.demo_listeners``'s layout, each loving one cluster."""
    listeners = pd.DataFrame({
        "user_id": list(DEMO_USERS),
        "display_name": ["cluster 0 fan", "cluster 1 fan"],
        "description": ["Synthetic demo listener: 100% cluster 0", "Synthetic demo listener: 100% cluster 1"],
        "n_tracks": [15, 15],
    })
    rows = []
    for user, cluster in zip(DEMO_USERS, (0, 1)):
        for tid in items.loc[items["cluster"] == cluster, "track_id"].head(15):
            rows.append({"user_id": user, "track_id": tid, "weight": 3.0})
    return {"demo_listeners": listeners, "demo_history": pd.DataFrame(rows)}


def write_demo_tables(data_dir: Path, items: pd.DataFrame) -> None:
    """The demo listeners as ``python -m engine prepare`` writes them (``data/parquet``)."""
    tables = demo_tables(items)
    parquet = data_dir / "parquet"
    (parquet / "interactions_demo").mkdir(parents=True)
    tables["demo_listeners"].to_parquet(parquet / "demo_listeners.parquet", index=False)
    tables["demo_history"].to_parquet(parquet / "interactions_demo" / "part-00000.parquet", index=False)


@pytest.fixture()
def app_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, app_models: tuple[Path, dict]) -> Iterator[Settings]:
    """Environment for one app test in demo mode (no Spotify client configured)."""
    models, parts = app_models
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("DATA_DIR", str(data))
    monkeypatch.setenv("MODELS_DIR", str(models))
    for var in ("SPOTIFY_CLIENT_ID", "SPOTIFY_CLIENT_SECRET", "SPOTIFY_API_BASE", "SPOTIFY_ACCOUNTS_BASE"):
        monkeypatch.setenv(var, "")
    monkeypatch.setenv("APP_STATE_SECRET", "test-state-secret")
    # Caches outlive an AppTest (same process): start every test from a clean slate.
    st.cache_resource.clear()
    st.cache_data.clear()
    yield Settings.from_env(env_file=None)
    st.cache_resource.clear()
    st.cache_data.clear()
