"""The served blend (engine.serving.blend): exact against a brute-force reference over all items,
ALS-only when the weights are 0 or the bundle is older, explanations through neighbours, the
evaluation scorer equal to serving, and on a planted dataset not worse than ALS alone."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import scipy.sparse as sp

from engine.bundle.load import FileSlices, load_bundle
from engine.bundle.publish import publish_bundle
from engine.core.errors import BundleError
from engine.core.weights import transform_weights
from engine.evaluation.scorers import BlendScorer
from engine.serving.blend import ALS_ONLY, BlendWeights, als_std
from engine.serving.neighbours import ItemNeighbours
from engine.serving.options import Options
from engine.serving.recommender import Recommender
from tests.factories import published_recommender, random_bundle_parts

N_ITEMS = 300
WEIGHTS = BlendWeights(neighbours=0.6, neighbour_pop_exponent=0.7, popularity=0.2)


def tid(i: int) -> str:
    return f"{i:022d}"


def planted_neighbours(n_items: int = N_ITEMS, n_without: int = 10, seed: int = 5) -> ItemNeighbours:
    """Each played item gets 8 neighbours, mostly in its group (item % 3), random cosines."""
    rng = np.random.default_rng(seed)
    played = n_items - n_without
    rows, sims = [], []
    for i in range(played):
        same = rng.choice(np.arange(i % 3, played, 3), size=7, replace=False)
        other = rng.integers(0, played, size=1)
        nbrs = np.unique(np.concatenate([same, other]))
        nbrs = nbrs[nbrs != i]
        s = rng.uniform(0.05, 0.9, size=len(nbrs))
        order = np.lexsort((nbrs, -s))
        rows.append(nbrs[order])
        sims.append(s[order])
    lengths = [len(r) for r in rows] + [0] * n_without
    indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    listeners = np.concatenate([rng.integers(1, 200, size=played), np.zeros(n_without)]).astype(np.float32)
    return ItemNeighbours(indptr, np.concatenate(rows).astype(np.int32), np.concatenate(sims).astype(np.float32), listeners)


def publish(tmp, *, blend: BlendWeights | None, neighbours: ItemNeighbours | None, n_without_factors: int = 10) -> Recommender:
    parts = random_bundle_parts(n_items=N_ITEMS, rank=8, seed=0, n_without_factors=n_without_factors)
    if blend is not None:
        parts["params"] = {**parts["params"], "blend": blend.to_dict()}
    if neighbours is not None:
        parts["extra"] = neighbours.to_extra()
    return published_recommender(tmp, parts)


@pytest.fixture(scope="module")
def nb() -> ItemNeighbours:
    return planted_neighbours()


@pytest.fixture(scope="module")
def blended(tmp_path_factory, nb) -> Recommender:
    return publish(tmp_path_factory.mktemp("blend"), blend=WEIGHTS, neighbours=nb)


HISTORY = {tid(3 * j): float(1 + 4 * j) for j in range(8)} | {tid(4): 2.0}


def reference_scores(rec: Recommender, nb: ItemNeighbours, history: dict[str, float], w: BlendWeights) -> np.ndarray:
    """The blend over ALL items, written out with loops and np.std (independent of engine.serving.blend)."""
    x = rec.fold_in(history)
    Y = np.asarray(rec.bundle.item_factors, dtype=np.float64)
    has = rec.arrays.has_factors
    a = Y @ x
    listeners = nb.listeners.astype(np.float64)
    nbs = np.zeros(len(Y))
    for t, r in history.items():
        j = int(rec.index_of([t])[0])
        wj = transform_weights(np.array([r]), rec.transform, epsilon=rec.epsilon, clip=rec.clip)[0]
        for i, s in zip(*nb.row(j)):
            nbs[i] += wj * s * listeners[i] ** -w.neighbour_pop_exponent
    prior = np.log1p(listeners)
    sa = a[has].std()
    return a + sa * (w.neighbours * nbs / nbs[has].std() + w.popularity * prior / prior[has].std())


def test_als_std_is_the_std_over_the_rows() -> None:
    rng = np.random.default_rng(0)
    Y, X = rng.normal(size=(500, 6)), rng.normal(size=(4, 6))
    got = als_std(X, Y.T @ Y, Y.sum(axis=0), len(Y))
    np.testing.assert_allclose(got, (X @ Y.T).std(axis=1), rtol=1e-9)
    assert als_std(np.zeros(6), Y.T @ Y, Y.sum(axis=0), len(Y)) == 1.0


def test_blend_equals_brute_force_reference(blended, nb) -> None:
    ref = reference_scores(blended, nb, HISTORY, WEIGHTS)
    ref[~blended.arrays.has_factors] = -np.inf
    ref[blended.index_of(list(HISTORY))] = -np.inf
    expected = np.argsort(-ref, kind="stable")[:25]
    out = blended.recommend(HISTORY, Options(discovery=None, k=25, max_per_artist=None))
    assert out.path == "als" and blended.blend is not None
    assert list(out.indices) == expected.tolist()
    np.testing.assert_allclose(out.scores, ref[expected], rtol=1e-6)  # gram.npy is float32
    many = blended.recommend_many([HISTORY, {tid(1): 3.0}], Options(discovery=None, k=25, max_per_artist=None))
    assert many[0].track_ids == out.track_ids and np.allclose(many[0].scores, out.scores)


def test_weight_zero_and_old_bundles_serve_exactly_als(tmp_path, nb) -> None:
    als = publish(tmp_path / "old", blend=None, neighbours=None)  # a bundle from before the blend
    zero = publish(tmp_path / "zero", blend=ALS_ONLY, neighbours=nb)
    no_params = publish(tmp_path / "noparams", blend=None, neighbours=nb)
    no_arrays = publish(tmp_path / "noarrays", blend=WEIGHTS, neighbours=None)
    base = als.recommend(HISTORY, Options(discovery=None, k=30))
    assert als.blend is None and base.path == "als" and len(base) == 30
    for rec in (zero, no_params, no_arrays):
        assert rec.blend is None
        got = rec.recommend(HISTORY, Options(discovery=None, k=30))
        assert got.track_ids == base.track_ids and np.array_equal(got.scores, base.scores)
    x = als.fold_in_many([HISTORY])
    Y = np.asarray(als.bundle.item_factors)
    train = sp.csr_matrix((list(HISTORY.values()), ([0] * len(HISTORY), als.index_of(list(HISTORY)))), shape=(1, N_ITEMS))
    scorer = BlendScorer(x, Y, nb, train, weights=ALS_ONLY, transform="log1p")
    assert np.array_equal(scorer.scores(np.array([0])), x @ np.asarray(Y, dtype=np.float64).T)


def test_bad_blend_params_name_the_field(tmp_path, nb) -> None:
    parts = random_bundle_parts(n_items=N_ITEMS, rank=8, seed=0)
    parts["params"] = {**parts["params"], "blend": {"neighbours": "lots"}}
    parts["extra"] = nb.to_extra()
    bundle = load_bundle(tmp_path / publish_bundle(tmp_path, **parts))
    with pytest.raises(BundleError, match="blend.neighbours='lots'"):
        Recommender(bundle)


def test_bundle_round_trip_keeps_the_neighbours(blended, nb) -> None:
    back = ItemNeighbours.from_extra(blended.bundle.extra, N_ITEMS)
    assert back is not None
    for name in ("indptr", "indices", "scores", "listeners"):
        assert np.array_equal(getattr(back, name), getattr(nb, name))
    assert blended.bundle.params["blend"] == WEIGHTS.to_dict()


def test_recommendation_reached_through_neighbours_explains_with_that_history_item(tmp_path) -> None:
    # History: group-0 items. History item 0 gets one strong neighbour in group 1 (item % 3),
    # which ALS alone does not rank in the top 10.
    target = 1 + 3 * 40  # group 1
    nb = planted_neighbours()
    lengths = np.diff(nb.indptr)
    rows = [nb.row(i) for i in range(N_ITEMS)]
    rows[0] = (np.array([target], dtype=np.int32), np.array([1.0], dtype=np.float32))
    for i in range(N_ITEMS):
        lengths[i] = len(rows[i][0])
    strong = ItemNeighbours(
        np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        np.concatenate([r[0] for r in rows]).astype(np.int32),
        np.concatenate([r[1] for r in rows]).astype(np.float32),
        nb.listeners,
    )
    w = BlendWeights(neighbours=3.0, neighbour_pop_exponent=0.0, popularity=0.0)
    rec = publish(tmp_path, blend=w, neighbours=strong)
    history = {tid(0): 50.0, tid(3): 1.0, tid(6): 1.0}
    als_only = publish(tmp_path / "als", blend=None, neighbours=None).recommend(history, Options(discovery=None, k=10))
    out = rec.recommend(history, Options(discovery=None, k=10))
    assert tid(target) not in als_only.track_ids and tid(target) in out.track_ids
    why = out.explanations[out.track_ids.index(tid(target))]
    assert why.because[0].track_id == tid(0)
    full = rec.explain(history, tid(target))
    score = out.scores[out.track_ids.index(tid(target))]
    assert sum(c.value for c in full.because) + full.rest == pytest.approx(score, rel=1e-9)


def test_popularity_prior_is_a_reason_and_scores_still_add_up(blended) -> None:
    out = blended.recommend(HISTORY, Options(discovery=None, k=5))
    e = out.explanations[0]
    pop = [r for r in e.reasons if r.kind == "popularity"]
    assert len(pop) == 1
    full = blended.explain(HISTORY, out.track_ids[0])
    total = sum(c.value for c in full.because) + full.rest + float(pop[0].detail)
    assert total == pytest.approx(out.scores[0], abs=2e-3)  # the reason shows 3 decimals


def test_evaluation_scorer_equals_serving(blended, nb) -> None:
    histories = [HISTORY, {tid(2): 4.0, tid(5): 1.0, tid(11): 9.0}]
    U = blended.fold_in_many(histories)
    rows, cols, vals = [], [], []
    for u, h in enumerate(histories):
        rows += [u] * len(h)
        cols += blended.index_of(list(h)).tolist()
        vals += list(h.values())
    train = sp.csr_matrix((vals, (rows, cols)), shape=(2, N_ITEMS))
    scorer = BlendScorer(U, blended.bundle.item_factors, nb, train, weights=WEIGHTS, transform=blended.transform,
                         epsilon=blended.epsilon, clip=blended.clip)
    S = scorer.scores(np.array([0, 1]))
    for u, h in enumerate(histories):
        out = blended.recommend(h, Options(discovery=None, k=20, max_per_artist=None))
        np.testing.assert_allclose(S[u, out.indices], out.scores, rtol=1e-6)


@pytest.mark.slow
def test_blend_is_not_worse_than_als_on_planted_data(spark) -> None:
    """6 taste groups but rank 2: ALS cannot separate them all, the neighbours can."""
    from engine.evaluation.datasets import fit_als_scorer, index_split
    from engine.evaluation.scoring import build_eval_data, evaluate_model
    from engine.evaluation.splits import holdout_split, prepare_interactions
    from engine.training.als import AlsParams, index_interactions
    from engine.training.neighbours import item_neighbours
    from tests.engine.test_evaluate import planted_rows

    df = spark.createDataFrame(planted_rows(), "user_id string, artist_id string, weight double")
    prepared = prepare_interactions(df, item_col="artist_id").cache()
    indexed = index_interactions(prepared, item_col="artist_id")
    split = holdout_split(prepared, item_col="artist_id", seed=42)
    s = index_split(split.train, split.test, user_ids=indexed.user_ids, item_ids=indexed.item_ids, item_col="artist_id")
    data = build_eval_data(s.train, s.test, seed=42)
    params = AlsParams(rank=2, max_iter=8, reg_param=0.1, alpha=5.0, weight_transform="binary", seed=1)
    als = fit_als_scorer(s.train_df, params, n_users=len(indexed.user_ids), n_items=len(indexed.item_ids))
    neighbours = item_neighbours(s.train_df, len(indexed.item_ids))
    blend = BlendScorer(als.U, als.Y, neighbours, data.train, weights=BlendWeights(1.0, 0.0, 0.0), transform="binary")
    m_als, m_blend = evaluate_model(als, data), evaluate_model(blend, data)
    assert m_blend["ndcg@10"] > m_als["ndcg@10"]
    assert m_blend["recall@50"] >= m_als["recall@50"]
    prepared.unpersist()



def test_score_items_equals_the_served_scores(blended, nb) -> None:
    """The refresh gate scores bundles through ``score_items``: the blend, not ALS alone."""
    rows = np.flatnonzero(blended.arrays.has_factors)
    got = blended.score_items([HISTORY, {tid(1): 3.0}], rows)
    assert got.shape == (2, len(rows))
    np.testing.assert_allclose(got[0], reference_scores(blended, nb, HISTORY, WEIGHTS)[rows], rtol=1e-5, atol=1e-6)
    als_only = blended.fold_in(HISTORY) @ np.asarray(blended.bundle.item_factors, dtype=np.float64)[rows].T
    assert not np.allclose(got[0], als_only)  # the neighbour term is really there


def test_several_components_and_an_als_weight_equal_brute_force(tmp_path, nb) -> None:
    """ALS at half weight + the first lists + a second set of lists with its own discount + the
    prior: served scores, explanations and the evaluation scorer all equal the loop reference."""
    from engine.serving.blend import Component

    other = planted_neighbours(seed=11)
    other = ItemNeighbours(other.indptr, other.indices, other.scores, nb.listeners)  # one listeners array
    w = BlendWeights(neighbours=0.5, neighbour_pop_exponent=0.3, popularity=-0.1, als=0.5,
                     components=(Component("rp3beta", 1.5, 0.8),))
    parts = random_bundle_parts(n_items=N_ITEMS, rank=8, seed=0)
    parts["params"] = {**parts["params"], "blend": w.to_dict()}
    parts["extra"] = {**nb.to_extra(), **other.to_extra("rp3beta")}
    rec = published_recommender(tmp_path, parts)
    assert BlendWeights.from_dict(rec.bundle.params["blend"]) == w

    x = rec.fold_in(HISTORY)
    Y = np.asarray(rec.bundle.item_factors, dtype=np.float64)
    has = rec.arrays.has_factors
    a = Y @ x
    listeners = nb.listeners.astype(np.float64)
    terms = []
    for lists, beta in ((nb, 0.3), (other, 0.8)):
        t = np.zeros(len(Y))
        for tr, r in HISTORY.items():
            j = int(rec.index_of([tr])[0])
            wj = transform_weights(np.array([r]), rec.transform, epsilon=rec.epsilon, clip=rec.clip)[0]
            for i, s in zip(*lists.row(j)):
                t[i] += wj * s * listeners[i] ** -beta
        terms.append(t / t[has].std())
    prior = np.log1p(listeners)
    sa = a[has].std()
    ref = 0.5 * a + sa * (0.5 * terms[0] + 1.5 * terms[1] - 0.1 * prior / prior[has].std())
    ref[~has] = -np.inf
    ref[rec.index_of(list(HISTORY))] = -np.inf
    expected = np.argsort(-ref, kind="stable")[:20]
    out = rec.recommend(HISTORY, Options(discovery=None, k=20, max_per_artist=None))
    assert list(out.indices) == expected.tolist()
    np.testing.assert_allclose(out.scores, ref[expected], rtol=1e-5)
    for e, score in zip(out.explanations, out.scores):
        pop = sum(float(r.detail) for r in e.reasons if r.kind == "popularity")
        # the popularity reason's detail is printed to 3 decimals: that is the tolerance
        assert abs(sum(c.value for c in e.because) + e.rest + pop - score) < 5e-4 + 1e-6 * abs(score)

    train = sp.csr_matrix((list(HISTORY.values()), ([0] * len(HISTORY), rec.index_of(list(HISTORY)))), shape=(1, N_ITEMS))
    scorer = BlendScorer(rec.fold_in_many([HISTORY]), Y, {"neighbours": nb, "rp3beta": other}, train,
                         weights=w, transform=rec.transform, epsilon=rec.epsilon, clip=rec.clip)
    got = scorer.scores(np.array([0]))[0]
    finite = np.isfinite(ref)
    np.testing.assert_allclose(got[finite], ref[finite], rtol=1e-5, atol=1e-9)

    # a term naming lists the bundle lacks is a clear bundle error, not a silent ALS fallback
    parts["extra"] = nb.to_extra()
    with pytest.raises(BundleError, match="rp3beta"):
        Recommender(load_bundle(tmp_path / "x" / publish_bundle(tmp_path / "x", **parts)))


def test_component_alone_ranks_like_the_item_item_scores(tmp_path, nb) -> None:
    """ALS weight 0 and one term: the served order is the item–item score order alone."""
    w = BlendWeights(neighbours=1.0, neighbour_pop_exponent=0.0, als=0.0)
    rec = publish(tmp_path, blend=w, neighbours=nb)
    scores = np.zeros(N_ITEMS)
    for tr, r in HISTORY.items():
        j = int(rec.index_of([tr])[0])
        wj = transform_weights(np.array([r]), rec.transform, epsilon=rec.epsilon, clip=rec.clip)[0]
        for i, s in zip(*nb.row(j)):
            scores[i] += wj * s
    scores[~rec.arrays.has_factors] = -np.inf
    scores[rec.index_of(list(HISTORY))] = -np.inf
    top = np.flatnonzero(scores > 0)
    out = rec.recommend(HISTORY, Options(discovery=None, k=len(top), max_per_artist=None))
    assert list(out.indices) == sorted(top.tolist(), key=lambda i: (-scores[i], i))


@pytest.mark.parametrize("n_history", [120, 6])
def test_contributions_are_the_same_both_ways(blended, n_history: int) -> None:
    """UserBlend.contributions maps entries to rows two ways (a dense map for many entries, the
    item-ordered slices for few); on the same user both give the same matrix, repeated and
    unreached items included, and the parts of each row add up to its bonus."""
    history = {tid(i): 1.0 + i % 5 for i in range(n_history)}
    idx = blended.index_of(list(history))
    user = blended.blend.for_user(blended.fold_in(history), idx, np.ones(len(idx)))
    assert (user.starts is None) == (n_history == 120)  # the long history takes the dense way
    items = np.array([user.nb_items[0], user.nb_items[-1], user.nb_items[0], 299])
    got = user.contributions(items, len(idx))
    dense = dataclasses.replace(user, starts=None).contributions(items, len(idx))
    assert np.array_equal(got, dense)
    assert got[0].any() and got[1].any() and not got[2].any() and not got[3].any()
    assert got[:2].sum(axis=1) == pytest.approx(user.nb_values[[0, -1]], rel=1e-12)


def test_served_lists_are_read_from_their_files_and_equal_the_maps(blended, nb) -> None:
    """A loaded bundle's lists are read with ``pread`` (nothing mapped per request), and every
    read equals the memory-mapped arrays': any items, repeated, empty rows, none at all."""
    lists = blended._blend.lists["neighbours"]  # noqa: SLF001 - the served lists themselves
    assert isinstance(lists.files, FileSlices)  # one file: each neighbour's index and score side by side
    mapped = dataclasses.replace(lists, files=None)
    rng = np.random.default_rng(0)
    for items in ([], [N_ITEMS - 1], [5, 5, 0, N_ITEMS - 3], rng.integers(0, N_ITEMS, 200).tolist()):
        got, want = lists.gather(np.asarray(items, dtype=np.int64)), mapped.gather(np.asarray(items, dtype=np.int64))
        for a, b in zip(got, want):
            assert a.dtype == b.dtype and np.array_equal(a, b)
    assert np.array_equal(lists.gather(np.arange(N_ITEMS))[1], nb.indices.astype(np.int64))


@pytest.mark.parametrize("als, popularity, n_without", [(1.0, 0.2, 10), (1.0, 0.0, 10), (0.5, 0.2, 10), (1.0, 0.2, 200)])
def test_a_pass_started_from_the_bonuses_serves_the_same_scores_bit_for_bit(
    tmp_path, nb, als: float, popularity: float, n_without: int
) -> None:
    """``Blend.start`` puts the neighbour bonuses into the pass's output (``Scan.scores(start=)``)
    and ``add_to(started=True)`` adds the rest: the float32 scores of the pass plus
    ``add_to``, bit for bit, over the full matrix or a compact scan (200 of 300 items without
    factors). A scaled ALS part (als ≠ 1) must be scaled first: no start."""
    w = BlendWeights(neighbours=0.6, neighbour_pop_exponent=0.7, popularity=popularity, als=als)
    rec = publish(tmp_path, blend=w, neighbours=nb, n_without_factors=n_without)
    fold, user = rec._listener(rec._parse(HISTORY))
    blend, scan = rec.blend, rec.scan
    assert blend is not None and user is not None and len(user.nb_items)
    assert (scan.item2pos is not None) == (n_without == 200)
    if scan.item2pos is not None:
        assert (scan.item2pos[user.nb_items] < 0).any()  # some bonuses go to items the scan lacks
    expected = scan.scores(fold.x)
    blend.add_to(expected, user, item2pos=scan.item2pos, prior_scan=rec._prior_scan)
    start = blend.start(user, len(scan.matrix), item2pos=scan.item2pos)
    assert (start is None) == (als != 1.0)
    got = scan.scores(fold.x, start=start)
    blend.add_to(got, user, item2pos=scan.item2pos, prior_scan=rec._prior_scan, started=start is not None)
    assert np.array_equal(got, expected)
    assert np.array_equal(rec._served_pass(fold, user), expected)
    assert not np.array_equal(expected, scan.scores(fold.x))  # the blend changed the scores
