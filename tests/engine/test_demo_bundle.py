"""The committed demo bundle (models/demo) must load with this code: a Java-less host serves it."""

from __future__ import annotations

import numpy as np

from engine.bundle.layout import SCHEMA_VERSION
from engine.bundle.load import load_bundle, load_current, verify_bundle_dir
from engine.core.config import ROOT
from engine.core.schemas import ARTIST_FACTORS, ARTIST_IDS, ARTIST_SIMILAR_INDPTR, BUNDLE_ITEM_COLUMNS
from engine.serving.recommender import Recommender
from engine.training.sources import SYNTHETIC_ARTIST_FACTORS

DEMO = ROOT / "models" / "demo"


def test_demo_bundle_is_current_with_the_code() -> None:
    manifest = verify_bundle_dir(DEMO)  # sha256s match; refuses an older schema_version
    assert manifest["schema_version"] == SCHEMA_VERSION, "rebuild it: make demo-bundle"
    b = load_bundle(DEMO)
    assert set(BUNDLE_ITEM_COLUMNS) <= set(b.items.columns)
    assert b.n_items >= 5000 and b.items["has_factors"].sum() >= 1000
    assert np.isfinite(np.asarray(b.item_factors)).all()


def test_demo_bundle_ships_similar_artists_but_not_synthetic_artist_factors() -> None:
    """A hosted demo serves this bundle to real Spotify listeners, who mostly match the catalogue
    by artist only: they get its similar-artist lists, not artist factors learnt from synthetic
    listeners (engine.training.sources.without_synthetic_artist_factors)."""
    b = load_bundle(DEMO)
    assert {ARTIST_IDS, ARTIST_SIMILAR_INDPTR} <= set(b.extra), "rebuild it: make demo-bundle"
    assert ARTIST_FACTORS not in b.extra
    assert b.params["artists"]["factors"] == SYNTHETIC_ARTIST_FACTORS
    ids = np.asarray(b.extra[ARTIST_IDS])
    assert len(ids) == b.params["artists"]["n_artists"] == len(b.extra[ARTIST_SIMILAR_INDPTR]) - 1
    credited = {a for artists in b.items["artist_ids"] for a in artists}
    assert credited <= set(ids.tolist())  # every catalogue artist has a row
    assert not Recommender(b).artists.has_factors.any()  # serving folds in over no artist factors


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
