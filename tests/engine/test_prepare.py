"""``python -m engine prepare``: the first model ``make run`` trains, on the synthetic demo listeners."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from engine.bundle.layout import current_version
from engine.bundle.load import load_current
from engine.commands.prepare import prepare
from engine.core.config import ROOT
from engine.core.schemas import ARTIST_FACTORS, ARTIST_IDS, ARTIST_SIMILAR_INDPTR
from engine.ingest.demo_listeners import SOURCE_DEMO
from engine.ingest.playlists_synthetic import SOURCE_PLAYLISTS
from engine.ingest.synthetic import SOURCE_SYNTHETIC
from engine.training.sources import (
    SYNTHETIC_ARTIST_FACTORS,
    SYNTHETIC_SOURCES,
    synthetic_share,
    without_synthetic_artist_factors,
)


def test_without_synthetic_artist_factors_drops_only_the_factors_and_says_why() -> None:
    extra = {ARTIST_FACTORS: np.ones((3, 2)), ARTIST_IDS: np.array(["a", "b", "c"]), "neighbours_indptr": np.zeros(4)}
    parts = {"extra": extra, "params": {"rank": 2, "artists": {"n_artists": 3}}, "item_factors": np.zeros((5, 2))}
    out = without_synthetic_artist_factors(parts)
    assert set(out["extra"]) == {ARTIST_IDS, "neighbours_indptr"}
    assert out["params"]["artists"] == {"n_artists": 3, "factors": SYNTHETIC_ARTIST_FACTORS}
    assert out["params"]["rank"] == 2 and out["item_factors"] is parts["item_factors"]
    assert ARTIST_FACTORS in parts["extra"] and "factors" not in parts["params"]["artists"]  # the input is unchanged


def test_synthetic_sources_are_the_generators_labels_and_the_share_counts_their_rows() -> None:
    assert SYNTHETIC_SOURCES == {SOURCE_DEMO, SOURCE_SYNTHETIC, SOURCE_PLAYLISTS}
    assert synthetic_share({"demo": 1500}) == 1.0 and synthetic_share({}) == 0.0
    assert synthetic_share({"demo": 240, "stream": 150, "app": 10}) == 0.6  # the demo listeners and a few app events
    assert synthetic_share({"lastfm": 900, "synthetic": 100}) == 0.1


@pytest.mark.slow
def test_prepare_publishes_a_first_model_without_synthetic_artist_factors(spark, settings) -> None:
    shutil.copytree(ROOT / "data" / "sample", settings.sample_dir)  # the catalogue slice the repo ships
    report = prepare(settings, spark_factory=lambda: spark, n_listeners=80, evaluate=False)
    assert report.steps == ["catalog", "demo", "model"]
    assert current_version(settings.models_dir) == report.version
    bundle = load_current(settings.models_dir)
    assert bundle.version == report.version and bundle.tables["demo_listeners"]["user_id"].str.startswith("demo:").all()
    assert {ARTIST_IDS, ARTIST_SIMILAR_INDPTR} <= set(bundle.extra) and ARTIST_FACTORS not in bundle.extra
    assert bundle.params["artists"]["factors"] == SYNTHETIC_ARTIST_FACTORS
    assert bundle.items["has_factors"].sum() > 100  # the track model is there
    again = prepare(settings, spark_factory=lambda: pytest.fail("a second prepare started Spark"))
    assert again.steps == [] and current_version(settings.models_dir) == report.version
