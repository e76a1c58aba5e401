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
    assert table["model"].tolist() == ["served (ALS)", "ALS alone", "item-knn", "most-popular"]
    assert table.loc[0, "coverage@10"] == pytest.approx(0.262)
    assert "hetrec" in " ".join(m.value for m in at.markdown)
    assert "EASE ranks only" in " ".join(c.value for c in at.caption)


def test_model_page_names_the_served_blend_its_lists_and_the_validation_table(
    app_env: Settings, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine.serving.blend import BlendWeights, Component
    from engine.serving.neighbours import NeighbourParams

    parts = seed_bundle_parts()
    blend = BlendWeights(neighbours=0.4, neighbour_pop_exponent=0.0, als=1.0, components=(Component("rp3beta", 0.8),))
    n = len(parts["items"])
    empty = {"indptr": [0] * (n + 1)}
    import numpy as np

    lists = {f"{name}_{k}": np.asarray(v, dtype=dt) for name in ("neighbours", "rp3beta")
             for k, v, dt in (("indptr", empty["indptr"], np.int64), ("indices", [], np.int32), ("scores", [], np.float32))}
    parts["extra"] = {**lists, "item_listeners": np.ones(n, dtype=np.float32)}
    parts["params"] = {
        **parts["params"], "blend": blend.to_dict(), "neighbours": NeighbourParams(top_n=50, shrink=10.0).to_dict(),
        "components": {"rp3beta": NeighbourParams(user_exponent=0.5, source_exponent=0.5, target_exponent=0.25).to_dict()},
        "served_selection": {"dataset": "playlists", "split": "holdout", "metric": "ndcg@10", "chosen_at": "2026-12-01",
                             "validation": [{"model": blend.label, "ndcg@10": 0.17, "recall@50": 0.21},
                                            {"model": "item-kNN alone", "ndcg@10": 0.15, "recall@50": 0.2}]},
    }
    publish_bundle(tmp_path / "models", **parts)
    monkeypatch.setenv("MODELS_DIR", str(tmp_path / "models"))
    at = open_page(start(), "model")
    assert "Which model is served" in [h.value for h in at.subheader]
    text = " ".join(m.value for m in at.markdown).replace("\\", "")  # markdown escapes
    assert "ALS + neighbours 0.4 + rp3beta 0.8" in text
    assert "item-kNN (cosine, shrink 10, top 50)" in text and "RP3beta (α 0.5, β 0.25" in text
    chosen = next(f for f in (df.value for df in at.dataframe) if "model" in f.columns and "item-kNN alone" in f["model"].tolist())
    assert chosen["ndcg@10"].tolist() == [0.17, 0.15]
    assert "validation split of playlists" in " ".join(c.value for c in at.caption)


def test_model_page_shows_refresh_rounds_newest_first(app_env: Settings) -> None:
    at = open_page(start(), "model")
    history = next(f for f in (df.value for df in at.dataframe) if "decision" in f.columns)
    assert history["decision"].tolist() == ["kept", "published"]
    assert history.loc[1, "published_version"] == "v1"
