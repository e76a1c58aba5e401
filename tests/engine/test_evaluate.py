"""End to end: ALS on Spark vs baselines on a planted-structure dataset; the report schema;
the grid, best_params.json, KMeans k, the bundle manifest, the CLI and the book's protocol."""

from __future__ import annotations

import json
import threading
from dataclasses import replace

import numpy as np
import pytest

from engine.bundle.load import load_current, verify_bundle_dir
from engine.bundle.publish import publish_bundle, write_bundle
from engine.evaluation.datasets import Dataset, fit_als_scorer, index_split
from engine.evaluation.protocol import _EarlyFits, evaluate
from engine.evaluation.report import store_metrics, write_report
from engine.evaluation.scorers import FactorScorer
from engine.evaluation.scoring import build_eval_data, evaluate_model, metric_keys
from engine.evaluation.search_space import GridSpec
from engine.evaluation.splits import holdout_split, prepare_interactions
from engine.evaluation.tuning import (
    _alpha_lines,
    _at_rank,
    _edges,
    _key,
    _one_transform_if_constant,
    _run_points,
    _seeds,
    _widened,
    select_kmeans_k,
)
from engine.serving.blend import BlendWeights
from engine.training.als import AlsParams, index_interactions
from engine.training.params import load_best_params, write_best_params
from tests.factories import random_bundle_parts

SMALL_ALS = AlsParams(rank=6, max_iter=8, reg_param=0.1, alpha=5.0, weight_transform="binary", seed=1)


def planted_rows(n_groups: int = 6, users_per_group: int = 20, items_per_group: int = 10, seed: int = 0):
    """Each listener plays 7 of the 10 items of their group (counts 1..50)."""
    rng = np.random.default_rng(seed)
    rows = []
    for g in range(n_groups):
        for u in range(users_per_group):
            for i in rng.choice(items_per_group, size=7, replace=False):
                rows.append((f"g{g}u{u}", f"g{g}i{i}", float(rng.integers(1, 50))))
    return rows


@pytest.fixture(scope="module")
def planted(spark):
    return spark.createDataFrame(planted_rows(), "user_id string, artist_id string, weight double")


def test_als_scores_clearly_above_random_factors(planted) -> None:
    prepared = prepare_interactions(planted, item_col="artist_id").cache()
    indexed = index_interactions(prepared, item_col="artist_id")
    split = holdout_split(prepared, item_col="artist_id", seed=42)
    s = index_split(split.train, split.test, user_ids=indexed.user_ids, item_ids=indexed.item_ids, item_col="artist_id")
    data = build_eval_data(s.train, s.test, seed=42)
    n_users, n_items = len(indexed.user_ids), len(indexed.item_ids)
    als = evaluate_model(fit_als_scorer(s.train_df, SMALL_ALS, n_users=n_users, n_items=n_items), data)
    rng = np.random.default_rng(0)
    broken = FactorScorer(rng.normal(size=(n_users, 6)), rng.normal(size=(n_items, 6)))
    rand = evaluate_model(broken, data)
    assert data.stats["n_test_users"] == n_users  # everyone has 7 items -> hides 1
    assert als["ndcg@10"] > 0.4 and als["ndcg@10"] > 3 * rand["ndcg@10"]
    assert als["auc"] > 0.9 and rand["auc"] < 0.75
    prepared.unpersist()


def test_evaluate_report_schema_grid_and_manifest(spark, planted, settings, tmp_path) -> None:
    spec = GridSpec(
        rank=(6,), reg_param=(0.1,), alpha={"binary": (1.0, 5.0), "log1p": (5.0,)}, max_iter=(6,),
        ease_lambda=(1.0, 10.0), max_widen=1, blend_neighbours=(0.5, 1.0), blend_exponent=(0.0, 0.5),
        blend_popularity=(0.0,), blend_top_n=(20,), knn_shrink=(0.0, 5.0), rp3_alpha=(0.5,), rp3_beta=(0.0, 0.5),
        rp3_top_n=(20,), ease_top_n=(20,), first_pass_users=40, first_pass_keep=2, first_pass_within=1.0,
    )
    report = evaluate(
        spark, settings, dataset=Dataset("planted", planted, "artist_id", "planted groups"),
        params=SMALL_ALS, ease_max_items=40, grid=spec,
    )
    d = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert {"dataset", "description", "protocol", "data", "params", "rows", "grid", "notes", "timings_s", "created_at"} <= set(d)
    models = [r["model"] for r in d["rows"]]
    assert models[:2] == ["served", "als"] and {"most-popular", "random", "ease", "item-knn"} <= set(models)
    assert any(m.startswith("als (") for m in models)  # best ALS of the other transform
    for row in d["rows"]:
        assert set(metric_keys()) <= set(row) and "fit_seconds" in row and "params" in row
        assert 0.0 <= row["ndcg@10"] <= 1.0 and 0.0 <= row["auc"] <= 1.0
        assert row["diversity@10"] is None  # artist-level data: no audio features
    assert report.row("als")["ndcg@10"] > 2 * report.row("random")["ndcg@10"]
    assert any("EASE ranks only the 40" in n for n in report.notes)
    grid = d["grid"]
    assert len(grid["rows"]) >= 3 and grid["best"]["alpha"] in {r["alpha"] for r in grid["rows"]}
    # the first pass fitted every grid point on 40 listeners (and screened the widening steps
    # there); its best two grid points were fitted on all of them
    sample_rows = [r for r in grid["rows"] if r["stage"] == "sample"]
    full_rows = [r for r in grid["rows"] if r["stage"] == "validation"]
    in_grid = {(6, 0.1, "binary", 1.0, 6), (6, 0.1, "binary", 5.0, 6), (6, 0.1, "log1p", 5.0, 6)}
    grid_points = [r for r in sample_rows if (r["rank"], r["reg_param"], r["weight_transform"], r["alpha"], r["max_iter"]) in in_grid]
    assert len(grid_points) == 3 and {r["n_eval_users"] for r in sample_rows} == {40}
    assert len(full_rows) >= 2 and all(r["n_eval_users"] > 40 for r in full_rows)
    best_two = sorted(grid_points, key=lambda r: -r["ndcg@10"])[:2]
    assert {(r["alpha"], r["weight_transform"]) for r in best_two} <= {(r["alpha"], r["weight_transform"]) for r in full_rows}
    assert grid["best_ease_lambda"] in {r["lambda"] for r in grid["ease_rows"]}
    # the blend was chosen on the validation split and the served row uses it
    assert grid["best_blend"]["neighbours"] in {r["neighbours"] for r in grid["blend_rows"]}
    assert any(r["neighbours"] == 0 for r in grid["blend_rows"])  # ALS alone, for reference
    served = report.row("served")
    assert served["params"]["blend"] == grid["best_blend"] == report.params["blend"]
    assert served["params"]["neighbours"]["top_n"] == 20
    assert served["ndcg@10"] > 2 * report.row("random")["ndcg@10"]
    md = report.to_markdown()
    assert "| model |" in md and "AUC (ties wrong)" in md and "Parameter search" in md and "Served blend" in md

    json_path, md_path = write_report(report, tmp_path / "reports")
    assert json.loads(json_path.read_text())["dataset"] == "planted" and md_path.read_text() == md

    path = write_best_params(settings, als=report.params, kmeans_k=7, meta={"dataset": "planted"},
                             blend=report.params["blend"], neighbours=report.params["neighbours"],
                             components=report.params["components"], selection=report.served_selection())
    saved = load_best_params(settings)
    assert path.name == "best_params.json" and saved["kmeans_k"] == 7 and saved["rank"] == report.params["rank"]
    assert AlsParams.from_settings(settings, **saved).rank == report.params["rank"]
    # ... and training picks them up from the file
    from engine.training.params import resolve_params, resolve_served

    assert resolve_params(settings, params_file=path).rank == report.params["rank"]
    served_choice = resolve_served(path)
    assert served_choice.blend.to_dict() == report.params["blend"] and served_choice.neighbours.top_n == 20
    selection = served_choice.selection
    assert selection and selection["validation"] and selection["dataset"] == "planted"
    assert selection["model"] == BlendWeights.from_dict(report.params["blend"]).label
    assert selection["validation"][0]["ndcg@10"] == max(r["ndcg@10"] for r in selection["validation"])

    bundle_dir = tmp_path / "bundle"
    write_bundle(bundle_dir, **random_bundle_parts(n_items=30))
    store_metrics(bundle_dir, {"evaluation": report.summary()})
    manifest = verify_bundle_dir(bundle_dir)  # still verifies
    assert manifest["metrics"]["evaluation"]["models"]["als"]["ndcg@10"] == pytest.approx(report.row("als")["ndcg@10"])
    assert manifest["metrics"]["evaluation"]["models"]["served"]["ndcg@10"] == pytest.approx(served["ndcg@10"])


def test_grid_widens_past_an_edge_and_warns() -> None:
    base = AlsParams(rank=8, reg_param=0.1, alpha=1.0, weight_transform="log1p", max_iter=10)
    tried = {
        _key(replace(base, rank=r)): {"rank": r, "reg_param": 0.1, "alpha": 1.0, "weight_transform": "log1p", "max_iter": 10}
        for r in (8, 16)
    }
    best = replace(base, rank=16)
    # iterations were tried at one value only: that counts as an edge (more are tried)
    assert _edges(best, tried) == [("rank", 16, "high"), ("max_iter", 10, "high")]
    assert [(p.rank, p.max_iter) for p in _widened(best, tried)] == [(32, 10), (16, 20)]
    assert _widened(replace(base, rank=8), tried)[0].rank == 4
    tried[_key(replace(base, rank=16, max_iter=20))] = {**tried[_key(best)], "rank": 16, "max_iter": 20}
    assert _edges(best, tried) == [("rank", 16, "high"), ("max_iter", 10, "low")]


def test_constant_weights_search_one_transform_over_the_mapped_alphas() -> None:
    base = AlsParams(rank=8, weight_epsilon=1.0, weight_clip=100.0)
    spec = GridSpec(alpha={"raw": (0.3,), "log1p": (3.0,), "binary": (1.0, 3.0), "clip": (0.3,)})
    one, note = _one_transform_if_constant(spec, np.array([2.0, 2.0, 2.0]), base)
    # raw 0.3·2, log1p 3·ln 3, binary 1 and 3, clip 0.3·min(2, 100): 0.6 twice
    assert one.alpha == {"binary": (0.6, 1.0, 3.0, float(f"{3 * np.log(3):.4g}"))}
    assert note and "every weight is 2" in note
    # varying weights, one transform already, or no ALS grid: unchanged
    assert _one_transform_if_constant(spec, np.array([1.0, 2.0]), base) == (spec, None)
    assert _one_transform_if_constant(replace(spec, als_grid=False), np.ones(3), base)[1] is None
    assert GridSpec(als_grid=False).points(base) == [base]


def test_only_first_pass_points_near_its_best_are_fitted_on_all_listeners() -> None:
    base = AlsParams(rank=32, reg_param=0.1, alpha=1.0, weight_transform="binary", max_iter=10)
    row = {"rank": 32, "weight_transform": "binary", "max_iter": 10}
    first = {
        i: {**row, "reg_param": reg, "alpha": alpha, "ndcg@10": m}
        for i, (reg, alpha, m) in enumerate([(0.3, 3.0, 0.0749), (0.3, 10.4, 0.0792), (0.03, 10.4, 0.0780), (0.3, 1.0, 0.05)])
    }
    spec = GridSpec(first_pass_keep=3, first_pass_within=0.03)
    # 0.0780 is 1.5% behind the best, 0.0749 5.4%: only the first two are refitted
    assert [(p.reg_param, p.alpha) for p in _seeds(first, base, spec)] == [(0.3, 10.4), (0.03, 10.4)]
    assert len(_seeds(first, base, replace(spec, first_pass_within=1.0))) == 3  # keep bounds it
    assert _seeds({}, base, spec) == []


def test_widening_steps_are_screened_at_the_first_pass_rank() -> None:
    best = AlsParams(rank=128, reg_param=0.3, alpha=15.0)
    assert _at_rank(replace(best, reg_param=0.9), 64, best.rank).rank == 64  # a step in λ: at rank 64
    assert _at_rank(replace(best, rank=64), 32, best.rank).rank == 64  # a step in rank: its own


def test_kmeans_k_by_silhouette(spark) -> None:
    from engine.core.schemas import CLUSTER_FEATURES

    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, len(CLUSTER_FEATURES))) * 10
    rows = [tuple(float(v) for v in centres[i % 3] + rng.normal(size=len(CLUSTER_FEATURES)) * 0.1) for i in range(90)]
    tracks = spark.createDataFrame(rows, ", ".join(f"{c} double" for c in CLUSTER_FEATURES))
    sel = select_kmeans_k(tracks, k_values=range(2, 6))
    assert sel["best_k"] == 3 and sel["k_values"] == [2, 3, 4, 5]
    assert sel["training_cost"][0] > sel["training_cost"][1]  # the elbow
    assert sel["warning"] is None


def test_cli_writes_report_and_stores_in_current_bundle(spark, planted, settings, monkeypatch, tmp_path) -> None:
    from engine.__main__ import main

    path = tmp_path / "interactions"
    planted.write.parquet(str(path))
    version = publish_bundle(settings.models_dir, **random_bundle_parts(n_items=30))
    monkeypatch.setenv("DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("MODELS_DIR", str(settings.models_dir))
    monkeypatch.setenv("SPARK_MASTER", "local[2]")
    out = tmp_path / "out"
    code = main(["evaluate", "--data", str(path), "--out", str(out), "--store", "--rank", "6", "--max-iter", "6",
                 "--weight-transform", "binary", "--alpha", "5"])
    assert code == 0
    report = json.loads((out / "eval-interactions.json").read_text())
    assert report["params"]["rank"] == 6 and [r["model"] for r in report["rows"]][:2] == ["served", "als"]
    # without --grid the served model is still chosen on a validation split (ALS as given)
    grid = report["grid"]
    assert [(r["rank"], r["stage"]) for r in grid["rows"]] == [(6, "validation")]
    assert report["params"]["blend"] == grid["best_blend"] and grid["blend_rows"]
    assert any(r["stage"] == "validation" for r in grid["blend_rows"])
    # --no-search: the configured (default) blend, no validation search
    assert main(["evaluate", "--data", str(path), "--out", str(out), "--no-search", "--rank", "6", "--max-iter", "6"]) == 0
    plain = json.loads((out / "eval-interactions.json").read_text())
    assert plain["grid"] is None and plain["params"]["blend"] == BlendWeights().to_dict()
    manifest = load_current(settings.models_dir).manifest
    assert manifest["version"] == version
    assert manifest["metrics"]["evaluation"]["dataset"] == "interactions"
    assert main(["evaluate", "--data", str(tmp_path / "missing")]) == 2


def test_book_reproduction_protocol(spark, planted, settings) -> None:
    from engine.evaluation.reproduction import reproduce_book

    grids = (("test", 6, (6,), (0.01,), (1.0,), "–", "–"),)
    out = reproduce_book(
        spark, settings, dataset=Dataset("planted", planted, "artist_id", "planted"), grids=grids
    )
    assert len(out["rows"]) == 1 and out["best"]["auc"] > 0.8
    assert 0.0 <= out["most_listened"]["auc"] <= 1.0
    assert "most listened" in out["markdown"] and out["data"]["n_test"] > 0


def test_early_fits_run_in_a_thread_once_and_fit_late_ones_on_demand() -> None:
    calls: list[tuple[int, str]] = []
    release = threading.Event()

    def fit(p: AlsParams) -> str:
        calls.append((p.rank, threading.current_thread().name))
        if p.rank == 8:
            release.wait(5)
        return f"model {p.rank}"

    fits = _EarlyFits(fit)
    early = AlsParams(rank=8)
    fits.start(early)
    fits.start(early)  # once per parameter set
    release.set()
    model, seconds = fits.result(early)
    assert model == "model 8" and seconds >= 0.0
    assert calls[0][0] == 8 and calls[0][1].startswith("early-als")
    late, _ = fits.result(AlsParams(rank=4))  # never started: fitted here, in this thread
    assert late == "model 4" and calls[1] == (4, threading.current_thread().name), calls
    assert len(calls) == 2
    fits.close()


def test_grid_points_are_fitted_once_even_when_listed_twice() -> None:
    seed = AlsParams(rank=32, reg_param=0.3, alpha=10.4)
    fitted: list[int] = []

    def score(p: AlsParams) -> dict:
        fitted.append(p.rank)
        return {"rank": p.rank}

    into: dict = {}
    # the seed, then the rank ladder at it: rank 32 is the seed itself
    _run_points([seed, *(replace(seed, rank=r) for r in (32, 64, 128))], into, score, at_once=2)
    assert sorted(fitted) == [32, 64, 128] and len(into) == 3
    _run_points([replace(seed, rank=64)], into, score, at_once=1)  # already scored: not again
    assert len(fitted) == 3


def test_the_first_pass_walks_alpha_from_the_middle_towards_the_peak() -> None:
    alphas = (0.03, 0.1, 0.3, 1.0, 2.079, 3.0, 10.4)
    base = AlsParams(rank=32, weight_transform="binary", max_iter=10)
    peak = {0.3: 10.4, 0.03: 0.1}  # per λ: NDCG peaks at this α and falls away from it
    fitted: list[tuple[float, float]] = []

    def score(p: AlsParams) -> dict:
        fitted.append((p.reg_param, p.alpha))
        return {"ndcg@10": -abs(np.log(p.alpha) - np.log(peak[p.reg_param]))}

    points = [replace(base, reg_param=lam, alpha=a) for lam in peak for a in alphas]
    into: dict = {}
    _alpha_lines(points, into, score, metric="ndcg@10", at_once=2)
    by_lam = {lam: sorted(a for l2, a in fitted if l2 == lam) for lam in peak}
    # λ 0.3: from α 1 up to the top end (4 fits); λ 0.03: 1, then 2.079 is worse, so down to 0.1
    # and 0.03, which is worse (5 fits)
    assert by_lam[0.3] == [1.0, 2.079, 3.0, 10.4]
    assert by_lam[0.03] == [0.03, 0.1, 0.3, 1.0, 2.079]
    assert len(fitted) == len(into) == 9  # each point once
    for lam, a in peak.items():  # the peak of each line was fitted
        assert (lam, a) in fitted
