"""webapp.model_info: honest facts from the manifest, readable tables, nothing private on the page."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.bundle.load import load_bundle
from engine.bundle.publish import write_bundle
from engine.state.refresh_log import RefreshRecord
from tests.factories import random_bundle_parts
from webapp import model_info


def test_public_text_drops_hosts_pids_and_server_paths(tmp_path: Path) -> None:
    models, data = tmp_path / "srv" / "models", tmp_path / "srv" / "data"
    dirs = model_info.public_dirs(models, models / "demo", data, tmp_path / "srv")
    lock = RefreshRecord(started_at="x").host  # the real host name, as the lock file records it
    text = (f"refused 20260101T000000Z-aaaaaaaa: {models}/20260101T000000Z-aaaaaaaa/gram.npy: contents do not match; "
            f"another refresh holds the lock: pid 4242 on host {lock} since 2026-01-30T06:00:00+00:00 (refresh); "
            f"InputError: no track interactions under {data}/parquet; cannot read /home/alice/secret/tracks.csv "
            f"or C:\\Users\\alice\\tracks.csv; demo at {models / 'demo'}; see https://***@example.org/b.tar.gz?sig=***")
    out = model_info.public_text(text, dirs)
    assert str(tmp_path) not in out and "4242" not in out and lock not in out and "alice" not in out
    assert "models/20260101T000000Z-aaaaaaaa/gram.npy: contents do not match" in out
    assert "holds the lock: another process since 2026-01-30T06:00:00+00:00" in out
    assert "under data/parquet" in out and "read …/tracks.csv or …\\tracks.csv" in out
    assert "demo at models/demo;" in out
    assert "https://***@example.org/b.tar.gz?sig=***" in out  # a URL is not a server path
    assert model_info.public_text("MODEL_BUNDLE_URL='https://x' is not a valid address (no host name)") == (
        "MODEL_BUNDLE_URL='https://x' is not a valid address (no host name)"
    )


def test_parameters_are_a_table_of_text_not_json() -> None:
    params = {"rank": 32, "alpha": 1.0, "reg_param": 0.3, "num_blocks": None, "implicit": True,
              "blend": {"neighbours": 0.2, "popularity": 0.0}, "components": {}, "seeds": [1, 2],
              "served_selection": {"validation": [{"model": "x"}]}}
    frame = model_info.params_frame(params)
    assert dict(zip(frame["parameter"], frame["value"])) == {
        "rank": "32", "alpha": "1", "reg_param": "0.3", "num_blocks": "—", "implicit": "yes",
        "blend.neighbours": "0.2", "blend.popularity": "0", "components": "—", "seeds": "1, 2",
    }
    assert not any(v.startswith(("{", "[")) for v in frame["value"])


def test_metrics_come_from_the_manifest_else_the_evaluation_else_the_refresh_gate() -> None:
    own = model_info.metrics_frame({"metrics": {"ndcg@10": 0.12, "evaluation": {}}})
    assert own[["metric", "value"]].values.tolist() == [["ndcg@10", 0.12]]
    evaluation = {"dataset": "demo", "split": "holdout",
                  "models": {"served": {"ndcg@10": 0.3, "recall@50": 0.5, "novelty@10": 400.0}, "als": {"ndcg@10": 0.2}}}
    served = model_info.metrics_frame({"metrics": {"evaluation": evaluation}})
    assert served["metric"].tolist() == ["ndcg@10", "recall@50"] and set(served["measured"]) == {"on demo (holdout split)"}
    records = [{"published_version": "v1", "started_at": "2026-01-30", "metrics": {"candidate": {"ndcg@10": 0.07}}},
               {"published_version": "v2", "started_at": "2026-01-31", "metrics": {"candidate": {"ndcg@10": 0.09}}}]
    gate = model_info.metrics_frame({"version": "v1", "metrics": {}}, records)
    assert gate["value"].tolist() == [0.07] and "refresh gate (2026-01-30)" in gate["measured"][0]
    assert model_info.metrics_frame({"version": "v9", "metrics": {}}, records).empty


def test_the_model_sentence_says_what_the_bundle_holds(tmp_path: Path) -> None:
    parts = random_bundle_parts(n_items=40, seed=5)
    parts["data_stats"] = {"n_users": 1500, "n_interactions": 56440, "sources": {"demo": 56440}}
    write_bundle(tmp_path / "demo", **parts)
    bundle = load_bundle(tmp_path / "demo")
    facts = model_info.about_bundle(bundle, demo_dir=tmp_path / "demo")
    assert model_info.model_sentence(facts) == (
        f"Recommendations from the built-in demo model of 40 tracks, trained on 56,440 listening events of 1,500 "
        f"synthetic listeners (version {bundle.version}), folded onto your own listening."
    )
    parts["data_stats"] = {"source": "no counts recorded"}
    write_bundle(tmp_path / "other", **parts)
    other = model_info.about_bundle(load_bundle(tmp_path / "other"), demo_dir=tmp_path / "demo")
    assert model_info.model_sentence(other).startswith("Recommendations from a model of 40 tracks (version ")
    assert other.n_listeners is None and "hundreds of thousands" not in model_info.model_sentence(other)


@pytest.mark.parametrize(
    ("created_at", "shown"),
    [("2026-12-01T15:08:45.286947+00:00", "2026-12-01 15:08:45 UTC"),
     ("2026-12-01T16:08:45+01:00", "2026-12-01 15:08:45 UTC"),
     ("not a date", "not a date")],
)
def test_the_training_time_keeps_its_seconds(created_at: str, shown: str) -> None:
    assert model_info.trained_at(created_at) == shown
