"""The committed demo bundle (models/demo) must load with this code: a Java-less host serves it."""

from __future__ import annotations

import numpy as np

from engine.bundle.layout import SCHEMA_VERSION
from engine.bundle.load import load_bundle, load_current, verify_bundle_dir
from engine.core.config import ROOT
from engine.core.schemas import BUNDLE_ITEM_COLUMNS

DEMO = ROOT / "models" / "demo"


def test_demo_bundle_is_current_with_the_code() -> None:
    manifest = verify_bundle_dir(DEMO)  # sha256s match; refuses an older schema_version
    assert manifest["schema_version"] == SCHEMA_VERSION, "rebuild it: make demo-bundle"
    b = load_bundle(DEMO)
    assert set(BUNDLE_ITEM_COLUMNS) <= set(b.items.columns)
    assert b.n_items >= 5000 and b.items["has_factors"].sum() >= 1000
    assert np.isfinite(np.asarray(b.item_factors)).all()


def test_demo_bundle_ships_the_demo_listeners() -> None:
    b = load_bundle(DEMO)
    listeners, history = b.tables["demo_listeners"], b.tables["demo_history"]
    assert len(listeners) >= 100 and listeners["user_id"].str.startswith("demo:").all()
    assert set(history["user_id"]) <= set(listeners["user_id"])
    known = set(b.items["track_id"])
    assert history["track_id"].isin(known).all()


def test_load_current_falls_back_to_the_demo_bundle(tmp_path) -> None:
    b = load_current(tmp_path / "no-models-here", fallback_dir=DEMO)
    assert b.path == DEMO
