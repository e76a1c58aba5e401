"""``python -m engine prepare``: the first model ``make run`` trains, on the synthetic demo listeners."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from engine.bundle.layout import current_version
from engine.bundle.load import load_current
from engine.commands.prepare import SYNTHETIC_ARTIST_FACTORS, prepare, without_synthetic_artist_factors
from engine.core.config import ROOT
from engine.core.schemas import ARTIST_FACTORS, ARTIST_IDS, ARTIST_SIMILAR_INDPTR


def test_without_synthetic_artist_factors_drops_only_the_factors_and_says_why() -> None:
    extra = {ARTIST_FACTORS: np.ones((3, 2)), ARTIST_IDS: np.array(["a", "b", "c"]), "neighbours_indptr": np.zeros(4)}
    parts = {"extra": extra, "params": {"rank": 2, "artists": {"n_artists": 3}}, "item_factors": np.zeros((5, 2))}
    out = without_synthetic_artist_factors(parts)
    assert set(out["extra"]) == {ARTIST_IDS, "neighbours_indptr"}
    assert out["params"]["artists"] == {"n_artists": 3, "factors": SYNTHETIC_ARTIST_FACTORS}
    assert out["params"]["rank"] == 2 and out["item_factors"] is parts["item_factors"]
    assert ARTIST_FACTORS in parts["extra"] and "factors" not in parts["params"]["artists"]  # the input is unchanged


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
