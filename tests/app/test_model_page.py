"""The Model page shows the stored evaluation as a table, the served blend first."""

from __future__ import annotations

import pytest

from engine.bundle.publish import publish_bundle
from engine.core.config import Settings
from tests.app.conftest import seed_bundle_parts
from tests.app.helpers import open_page, start

EVALUATION = {
    "evaluated_at": "2026-12-01T14:00:00+00:00",
    "dataset": "hetrec",
    "split": "holdout",
    "seed": 42,
    "n_test_users": 1871,
    "als_params": {"rank": 64},
    "models": {
        "als": {"ndcg@10": 0.254, "recall@50": 0.452, "auc": 0.914, "coverage@10": 0.193},
        "item-knn": {"ndcg@10": 0.216, "recall@50": 0.397, "auc": 0.866, "coverage@10": 0.419},
        "served": {"ndcg@10": 0.256, "recall@50": 0.455, "auc": 0.919, "coverage@10": 0.262},
        "most-popular": {"ndcg@10": 0.078, "recall@50": 0.187, "auc": None, "coverage@10": 0.004},
    },
    "notes": ["EASE ranks only the 8,000 most-listened of 9,000 candidate items"],
}


def test_model_page_shows_the_evaluation_table_served_first(app_env: Settings, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    parts = seed_bundle_parts()
    parts["metrics"] = {"evaluation": EVALUATION}
    publish_bundle(tmp_path / "models", **parts)
    monkeypatch.setenv("MODELS_DIR", str(tmp_path / "models"))
    at = open_page(start(), "model")
    assert "How good is it?" in [h.value for h in at.subheader]
    frames = [df.value for df in at.dataframe]
    table = next(f for f in frames if "model" in f.columns)
    assert table["model"].tolist() == ["served (ALS + neighbours)", "ALS alone", "item-knn", "most-popular"]
    assert table.loc[0, "coverage@10"] == pytest.approx(0.262)
    assert "hetrec" in " ".join(m.value for m in at.markdown)
    assert "EASE ranks only" in " ".join(c.value for c in at.caption)
