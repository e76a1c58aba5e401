"""The committed demo bundle (models/demo) must load with this code: a Java-less host serves it."""

from __future__ import annotations

import numpy as np

from engine import bundle as B
from engine.config import ROOT
from engine.schemas import BUNDLE_ITEM_COLUMNS

DEMO = ROOT / "models" / "demo"


def test_demo_bundle_is_current_with_the_code() -> None:
    manifest = B.verify_bundle_dir(DEMO)  # sha256s match; refuses an older schema_version
    assert manifest["schema_version"] == B.SCHEMA_VERSION, "rebuild it: make demo-bundle"
    b = B.load_bundle(DEMO)
    assert set(BUNDLE_ITEM_COLUMNS) <= set(b.items.columns)
    assert b.n_items >= 5000 and b.items["has_factors"].sum() >= 1000
    assert np.isfinite(np.asarray(b.item_factors)).all()


def test_demo_bundle_ships_the_demo_listeners() -> None:
    b = B.load_bundle(DEMO)
    listeners, history = b.tables["demo_listeners"], b.tables["demo_history"]
    assert len(listeners) >= 100 and listeners["user_id"].str.startswith("demo:").all()
    assert set(history["user_id"]) <= set(listeners["user_id"])
    known = set(b.items["track_id"])
    assert history["track_id"].isin(known).all()


def test_load_current_falls_back_to_the_demo_bundle(tmp_path) -> None:
    b = B.load_current(tmp_path / "no-models-here", fallback_dir=DEMO)
    assert b.path == DEMO
