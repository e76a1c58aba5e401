"""The Model page shows the stored evaluation as a table, the served blend first."""

from __future__ import annotations

import pytest

from engine.bundle.publish import publish_bundle
from engine.core.config import Settings
from tests.app.conftest import seed_bundle_parts
from tests.app.helpers import open_page, start
from webapp.cards import md_escape

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


def _page_text(at) -> str:
    """Everything a visitor can read on the page (Markdown escapes removed), sidebar included."""
    parts = [str(getattr(e, "value", "")) for e in (*at.main, *at.sidebar)]
    parts += [f"{m.label} {m.value}" for m in at.metric]
    parts += [df.value.to_string() for df in at.dataframe]
    parts += [h.proto.body for h in at.get("html")]
    return " ".join(parts).replace("\\", "")


def test_model_page_shows_the_whole_version_and_time_readable_parameters_and_metrics(
    app_env: Settings, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine.bundle.load import load_current
    from webapp.model_info import trained_at

    parts = seed_bundle_parts()
    parts["metrics"] = {"evaluation": EVALUATION}  # no flat metrics: the column comes from the evaluation
    parts["params"] = {**parts["params"], "blend": {"neighbours": 0.2, "popularity": 0.0, "neighbour_pop_exponent": 0.35},
                       "neighbours": {"top_n": 100, "min_common": 1}, "num_blocks": None}
    parts["data_stats"] = {"n_users": 1500, "n_interactions": 56440, "sources": {"demo": 56440}}
    publish_bundle(tmp_path / "models", **parts)
    monkeypatch.setenv("MODELS_DIR", str(tmp_path / "models"))
    bundle = load_current(tmp_path / "models")
    at = open_page(start(), "model")
    text = " ".join(m.value for m in at.markdown).replace("\\", "")
    stamp = trained_at(bundle.manifest["created_at"])
    assert f"Version **{bundle.version}** · trained **{stamp}**" in text and stamp.count(":") == 2  # seconds kept
    assert {m.label: m.value for m in at.metric} == {"Tracks": f"{bundle.n_items:,}", "Listeners trained on": "1,500",
                                                     "Latent factors": "8"}
    params = next(df.value for df in at.dataframe if "parameter" in df.value.columns)
    values = dict(zip(params["parameter"], params["value"]))
    assert values["blend.neighbours"] == "0.2" and values["neighbours.top_n"] == "100" and values["num_blocks"] == "—"
    assert not any(str(v).startswith("{") for v in params["value"])  # no raw JSON dicts
    metrics = next(df.value for df in at.dataframe if list(df.value.columns) == ["metric", "value", "measured"])
    assert metrics.set_index("metric")["value"].to_dict() == {"ndcg@10": 0.256, "recall@50": 0.455, "auc": 0.919,
                                                              "coverage@10": 0.262}
    assert set(metrics["measured"]) == {"on hetrec (holdout split)"}


def test_model_page_shows_no_hosts_pids_or_server_paths(app_env: Settings, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from engine.state.refresh_log import RefreshRecord, append_log
    from tests.factories import random_bundle_parts

    models = tmp_path / "srv-private" / "models"
    good = publish_bundle(models, **seed_bundle_parts())
    broken = publish_bundle(models, **random_bundle_parts(n_items=20, seed=11))
    (models / broken / "manifest.json").write_text("null")  # CURRENT is refused; good serves, with a note
    host = RefreshRecord(started_at="x").host
    for record in (
        RefreshRecord(started_at="2026-01-30T06:00:00+00:00", decision="skipped",
                      reason=f"another refresh holds the lock: pid 4242 on host {host} since 2026-01-30T05:59:00+00:00"),
        RefreshRecord(started_at="2026-01-30T07:00:00+00:00", decision="failed",
                      reason=f"InputError: no track interactions under {tmp_path}/srv-private/data/parquet"),
    ):
        append_log(models, record)
    monkeypatch.setenv("MODELS_DIR", str(models))
    at = open_page(start(), "model")
    text = _page_text(at)
    assert json.loads((models / "refresh_log.jsonl").read_text().splitlines()[0])["pid"]  # the log keeps them...
    for private in (str(tmp_path), "srv-private", "4242", f"host {host}", str(RefreshRecord(started_at="x").pid)):
        assert private not in text, private  # ...the page does not
    warnings = " ".join(w.value for w in at.warning).replace("\\", "")
    assert f"models/{broken}/manifest.json: holds null, not a JSON object" in warnings
    assert md_escape(good) in " ".join(m.value for m in at.markdown)
    reasons = next(df.value for df in at.dataframe if "reason" in df.value.columns)["reason"].tolist()
    assert reasons == ["InputError: no track interactions under …/parquet",
                       "another refresh holds the lock: another process since 2026-01-30T05:59:00+00:00"]


def test_current_text_notes_and_evaluation_notes_are_escaped(app_env: Settings, tmp_path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    parts = seed_bundle_parts()
    parts["metrics"] = {"evaluation": {**EVALUATION, "notes": ["*bold* [x](javascript:alert(1))"]}}
    publish_bundle(tmp_path / "models", **parts)
    hostile = "**big** [click](javascript:alert(2)) ![i](http://e/p.png)"
    (tmp_path / "models" / "CURRENT").write_text(hostile + "\n")
    monkeypatch.setenv("MODELS_DIR", str(tmp_path / "models"))
    at = open_page(start(), "model")
    sidebar = " ".join(c.value for c in at.sidebar.caption)
    assert md_escape(hostile) in sidebar  # the sidebar names CURRENT as written, as text
    warning = " ".join(w.value for w in at.warning)
    assert "is not a version folder name" in warning and "[click](" not in warning and "**big**" not in warning
    assert md_escape("*bold* [x](javascript:alert(1))") in [c.value for c in at.caption]
