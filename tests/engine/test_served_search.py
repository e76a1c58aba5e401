"""Choosing the served model on validation (engine.evaluation.served_search), without Spark."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from engine.core.weights import transform_weights
from engine.evaluation.scorers import BlendScorer, add_rows, row_stds
from engine.evaluation.scoring import build_eval_data, evaluate_model
from engine.evaluation.search_space import GridSpec
from engine.evaluation.served_search import EASE, RP3BETA, ListKind, TermCache, search_served
from engine.serving.blend import BlendWeights, Component, sparse_std
from engine.serving.neighbours import NEIGHBOURS, NeighbourParams
from engine.training.als import AlsParams
from engine.training.cooccurrence import cooccurrence_neighbours


def scenes(n_users: int = 300, n_scenes: int = 30, per_scene: int = 12, seed: int = 0) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Playlist-like lists: each listener draws 6-10 tracks from one scene; 2 of them held out."""
    rng = np.random.default_rng(seed)
    n_items = n_scenes * per_scene
    train, test = [], []
    for u in range(n_users):
        scene = rng.integers(n_scenes)
        items = rng.choice(np.arange(scene * per_scene, (scene + 1) * per_scene), size=rng.integers(6, 11), replace=False)
        for i in items[:-2]:
            train.append((u, i))
        for i in items[-2:]:
            test.append((u, i))

    def csr(pairs):
        u, i = np.array(pairs).T
        return sp.csr_matrix((np.ones(len(u)), (u, i)), shape=(n_users, n_items))

    return csr(train), csr(test)


def test_cached_terms_score_exactly_like_the_served_formulas() -> None:
    train, test = scenes()
    rng = np.random.default_rng(1)
    U, Y = rng.normal(size=(train.shape[0], 5)), rng.normal(size=(train.shape[1], 5))
    knn = cooccurrence_neighbours(train, NeighbourParams(top_n=20, shrink=2.0))
    rp3 = cooccurrence_neighbours(train, NeighbourParams(top_n=15, user_exponent=0.7, source_exponent=0.7, target_exponent=0.3))
    w = BlendWeights(neighbours=0.7, neighbour_pop_exponent=0.35, popularity=0.1, als=0.5,
                     components=(Component(RP3BETA, 1.3, 0.2),))
    W = train.copy()
    W.data = transform_weights(W.data, "binary")
    users = np.array([3, 17, 42, 200])
    cache = TermCache(U, Y, W, users)
    terms = [(0.7, cache.term("knn", knn, 0.35)), (1.3, cache.term("rp3", rp3, 0.2))]
    got = cache.scorer(w, terms, np.log1p(knn.listeners.astype(np.float64))).scores(users)
    want = BlendScorer(U, Y, {"neighbours": knn, RP3BETA: rp3}, train, weights=w, transform="binary").scores(users)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


def test_the_served_model_is_never_worse_on_validation_than_any_single_model() -> None:
    train, test = scenes()
    data = build_eval_data(train, test, seed=3)
    rng = np.random.default_rng(2)
    U, Y = rng.normal(size=(train.shape[0], 4)) * 0.1, rng.normal(size=(train.shape[1], 4))  # a poor ALS
    spec = GridSpec(blend_top_n=(10, 30), knn_shrink=(0.0, 5.0), rp3_alpha=(0.5, 1.0), rp3_beta=(0.0, 0.5),
                    rp3_top_n=(30,), ease_top_n=(30,), blend_neighbours=(0.5, 1.0, 2.0), blend_rounds=2,
                    search_users=150, refine_top=2, max_widen=1)
    found = search_served(U, Y, data, als=AlsParams(weight_transform="binary"), spec=spec,
                          ease_lambda=10.0, ease_max_items=200, seed=0)
    final = [r for r in found.rows if r["stage"] == "validation"]
    sample = [r for r in found.rows if r["stage"] == "sample"]
    assert all(r["n_eval_users"] == data.test_users.size for r in final)
    assert all(r["n_eval_users"] == 150 for r in sample)
    labels = " | ".join(r["model"] for r in final)
    for single in ("ALS", "item-kNN", "RP3beta", "EASE"):
        assert single in labels, labels  # every single model's best is a finalist
    best_row = next(r for r in final if BlendWeights.from_dict(r["blend"]) == found.best)
    top = max(r["ndcg@10"] for r in final)
    near = [r for r in final if r["ndcg@10"] >= top * (1 - spec.blend_tolerance)]
    assert best_row in near and best_row["coverage@10"] == max(r["coverage@10"] for r in near)
    als_alone = next(r for r in final if r["model"] == "ALS")
    assert best_row["ndcg@10"] > 2 * als_alone["ndcg@10"]  # scenes are item–item territory
    for r in final:
        assert best_row["ndcg@10"] >= r["ndcg@10"] * (1 - spec.blend_tolerance)
    # every term the choice weighs has its lists, and they score as chosen
    assert {c.name for c in found.best.components} <= set(found.components)
    lists = {"neighbours": cooccurrence_neighbours(train, found.neighbours)}
    for name, p in found.components.items():
        if p.kind == "cooccurrence":
            lists[name] = cooccurrence_neighbours(train, p)
    if all(c.name in lists for c in found.best.terms):
        again = evaluate_model(BlendScorer(U, Y, lists, train, weights=found.best, transform="binary"), data)
        assert again["ndcg@10"] == best_row["ndcg@10"]


def test_row_stds_and_add_rows_match_the_per_row_formulas() -> None:
    rng = np.random.default_rng(4)
    T = sp.random(30, 50, density=0.2, format="csr", random_state=5)
    T = sp.csr_matrix(T @ sp.random(50, 50, density=0.2, format="csr", random_state=6))  # a product: not canonical
    T.data[T.indptr[7]:T.indptr[8]] = 0.0  # an empty row keeps std 1
    T.eliminate_zeros()
    want = [sparse_std(T.data[T.indptr[r]:T.indptr[r + 1]], 50) if T.indptr[r + 1] > T.indptr[r] else 1.0 for r in range(30)]
    np.testing.assert_allclose(row_stds(T, 50), want, rtol=1e-12)
    out = rng.normal(size=(30, 50))
    scale = rng.normal(size=30)
    expected = out + scale[:, None] * T.toarray()
    add_rows(out, T, scale)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-15)


def test_rp3beta_tries_beta_in_order_until_it_falls_behind() -> None:
    train, test = scenes()
    data = build_eval_data(train, test, seed=3)
    rng = np.random.default_rng(2)
    U, Y = rng.normal(size=(train.shape[0], 4)) * 0.1, rng.normal(size=(train.shape[1], 4))
    betas = (0.0, 0.5, 1.0, 1.5, 2.0)
    spec = GridSpec(blend_top_n=(30,), knn_shrink=(0.0,), rp3_alpha=(0.5, 1.0), rp3_beta=betas, rp3_top_n=(30,),
                    ease_top_n=(), blend_neighbours=(1.0,), blend_rounds=1, search_users=150, refine_top=1, max_widen=0)
    found = search_served(U, Y, data, als=AlsParams(weight_transform="binary"), spec=spec,
                          ease_lambda=None, ease_max_items=200, seed=0)
    alone = [r for r in found.rows if r["stage"] == "sample" and set(r["lists"]) == {RP3BETA} and r["als"] == 0]
    stopped_early = False
    for a in spec.rp3_alpha:
        line = sorted((r["lists"][RP3BETA]["target_exponent"], r["ndcg@10"]) for r in alone
                      if r["lists"][RP3BETA]["user_exponent"] == a and r["blend"]["components"][0]["weight"] == 1.0)
        tried = [b for b, _ in line]
        assert tried == list(betas[: len(tried)]) and tried  # a prefix of the β grid
        if len(tried) < len(betas):  # stopped: the last step fell behind the best before it
            stopped_early = True
            assert line[-1][1] < max(m for _, m in line[:-1]) * (1 - spec.blend_tolerance)
        for i in range(1, len(line) - 1):  # every step before the last kept up with the best so far
            assert line[i][1] >= max(m for _, m in line[:i]) * (1 - spec.blend_tolerance)
    assert stopped_early  # β 2 discounts popular targets far too much on these scenes


def test_a_terms_list_lengths_follow_its_kind_not_its_parameters() -> None:
    spec = GridSpec(blend_top_n=(10, 30), rp3_top_n=(40,), ease_top_n=(50, 70))
    cosine_like = NeighbourParams(top_n=25)  # γ = 0, a = b = 0.5: what item-kNN's defaults are
    rp3_like = NeighbourParams(top_n=25, user_exponent=0.7, source_exponent=0.7, target_exponent=0.3)
    assert {k.value for k in ListKind} == {NEIGHBOURS, RP3BETA, EASE}  # every term the search serves
    assert ListKind(RP3BETA).top_ns(spec, cosine_like) == (40, 25)  # told apart by name, not by exponents
    assert ListKind(NEIGHBOURS).top_ns(spec, rp3_like) == (10, 30, 25)
    assert ListKind(EASE).top_ns(spec, NeighbourParams(top_n=50, kind="ease")) == (50, 70)
    assert ListKind(EASE).top_ns(GridSpec(ease_top_n=()), NeighbourParams(top_n=9, kind="ease")) == (9,)
    with pytest.raises(ValueError, match="ease lists need neighbours kind 'ease', got 'cooccurrence'"):
        ListKind.EASE.check(cosine_like)
    with pytest.raises(ValueError, match="'nope' is not a valid ListKind"):
        ListKind("nope")
