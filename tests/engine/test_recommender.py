"""Serving in numpy (engine.serving.recommender): exact fold-in, re-ranking, explanations, cold start.

Synthetic bundles from tests.factories (planted groups: item i is in group i % 3, by artist
(i // 3) % n_artists, 10 items without factors at the end by default). Every check compares
with a brute-force computation over ALL items, written independently here.
"""

from __future__ import annotations

import dataclasses
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.bundle.load import load_bundle
from engine.bundle.publish import publish_bundle
from engine.core.weights import transform_weights
from engine.serving.foldin import contributions, solve_batch
from engine.serving.options import MAX_K, Options
from engine.serving.recommender import Recommender
from engine.serving.rerank import flatnonzero_sparse, select_top
from engine.serving.results import Reason
from tests.factories import random_bundle_parts
from tests.references import capped_walk

ROOT = Path(__file__).resolve().parents[2]
PARAMS = {"rank": 8, "reg_param": 0.1, "alpha": 10.0, "weight_transform": "log1p",
          "weight_epsilon": 1.0, "weight_clip": 100.0, "max_iter": 10}


def _publish(tmp: Path, **kwargs) -> tuple[Recommender, dict]:
    parts = random_bundle_parts(**kwargs)
    version = publish_bundle(tmp, **parts)
    return Recommender(load_bundle(tmp / version)), parts


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> tuple[Recommender, dict]:
    return _publish(tmp_path_factory.mktemp("models"), n_items=300, rank=8, seed=0)


@pytest.fixture(scope="module")
def rec(served) -> Recommender:
    return served[0]


def tid(i: int) -> str:
    return f"{i:022d}"


def group_history(group: int, n: int = 6, *, start: int = 0) -> dict[str, float]:
    """``n`` tracks of one group (all with factors) with varied raw weights."""
    return {tid(3 * (start + j) + group): float(1 + 3 * j) for j in range(n)}


# -- fold-in ----------------------------------------------------------------------------------


def brute_force_fold_in(y: np.ndarray, weights: dict[int, float], params: dict) -> np.ndarray:
    """Implicit ALS user solve with the FULL confidence matrix over every item: O(items·k²)."""
    y = y.astype(np.float64)
    raw = np.zeros(len(y))
    for i, w in weights.items():
        raw[i] = w
    r = np.zeros(len(y))
    pos = raw > 0
    r[pos] = transform_weights(raw[pos], params["weight_transform"], epsilon=params["weight_epsilon"],
                               clip=params["weight_clip"])
    c = 1.0 + params["alpha"] * r
    p = (raw > 0).astype(np.float64)
    a = (y.T * c) @ y + params["reg_param"] * pos.sum() * np.eye(y.shape[1])
    return np.linalg.solve(a, (y.T * c) @ p)


@pytest.mark.parametrize("transform", ["raw", "log1p", "binary", "clip"])
def test_fold_in_equals_brute_force_with_full_confidence_matrix(tmp_path, transform) -> None:
    params = {**PARAMS, "weight_transform": transform, "weight_clip": 4.0, "weight_epsilon": 2.0}
    rec, parts = _publish(tmp_path, n_items=200, rank=6, seed=3, params=params)
    y = parts["item_factors"]
    history = {tid(i): w for i, w in [(1, 1.0), (4, 7.0), (10, 2.5), (22, 30.0), (50, 0.5)]}
    history[tid(195)] = 9.0  # no factors: must not enter the solve
    history["not-in-the-catalogue"] = 3.0
    expected = brute_force_fold_in(y, {1: 1.0, 4: 7.0, 10: 2.5, 22: 30.0, 50: 0.5}, params)
    got = rec.fold_in(history)
    # The bundle stores YᵀY as float32, hence 1e-5; the exact-gram check is below.
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)
    exact_gram = y.astype(np.float64).T @ y.astype(np.float64)
    rows = y[[1, 4, 10, 22, 50]].astype(np.float64)
    r = transform_weights(np.array([1.0, 7.0, 2.5, 30.0, 0.5]), transform, epsilon=2.0, clip=4.0)
    fold = solve_batch(exact_gram, [rows], [1.0 + params["alpha"] * r], reg_param=params["reg_param"])[0]
    np.testing.assert_allclose(fold.x, expected, rtol=1e-11, atol=1e-13)


def test_fold_in_indices_and_batches_agree_with_fold_in(rec) -> None:
    histories = [group_history(0), group_history(1, 3), {}, {tid(299): 2.0}, group_history(2, 12)]
    single = np.stack([rec.fold_in(h) for h in histories])
    np.testing.assert_allclose(rec.fold_in_many(histories), single, rtol=1e-10, atol=1e-12)
    h = histories[0]
    by_index = rec.fold_in_indices(rec.index_of(list(h)), list(h.values()))
    np.testing.assert_allclose(by_index, single[0], rtol=1e-12)
    assert not single[2].any() and not single[3].any()  # nothing with factors: zero vector
    with pytest.raises(ValueError, match="out of range"):
        rec.fold_in_indices([0, 10_000], [1.0, 1.0])
    with pytest.raises(ValueError, match="duplicate"):
        rec.fold_in_indices([3, 3], [1.0, 1.0])


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf"), 2e7, "lots", None])
def test_bad_weights_are_rejected_naming_track_and_value(rec, bad) -> None:
    history = {tid(0): 1.0, tid(3): bad}
    with pytest.raises(ValueError, match=rf"{tid(3)}.*{bad!r}".replace("(", r"\(").replace(")", r"\)")):
        rec.recommend(history)
    with pytest.raises(ValueError, match=tid(3)):
        rec.fold_in(history)


@pytest.mark.parametrize("k", [0, MAX_K + 1, 2.5, True, -3])
def test_k_is_bounded(rec, k) -> None:
    with pytest.raises(ValueError, match="k must be"):
        rec.recommend(group_history(0), Options(discovery=None, k=k))
    with pytest.raises(ValueError, match="k must be"):
        rec.similar(tid(0), k=k)


def test_unknown_ids_are_reported_not_dropped(rec) -> None:
    history = {**group_history(1), "ghost-1": 2.0, "ghost-2": 1.0, tid(298): 4.0}
    out = rec.recommend(history, Options(discovery=None, k=5))
    assert out.path == "als"
    assert out.unknown_ids == ("ghost-1", "ghost-2")
    assert out.without_factors == (tid(298),)
    cold = rec.recommend({"ghost-3": 1.0}, Options(discovery=None, k=5, seed_tracks=["ghost-4"]))
    assert cold.path == "cold-start:popularity"
    assert cold.unknown_ids == ("ghost-3", "ghost-4")


# -- recommend vs a brute-force reference --------------------------------------------------------


def reference(parts, x, *, known, k, cap=2, year=None, explicit=None, energy=None, clusters=None,
              novelty=0.0, freshness=0.0):
    """Full-pass recommend: exact scores of all items, all filters, greedy artist cap."""
    items = parts["items"]
    y = parts["item_factors"].astype(np.float64)
    s = y @ x
    ok = items["has_factors"].to_numpy().copy()
    ok[list(known)] = False
    yr = items["year"].to_numpy()
    if year:
        ok &= (yr >= year[0]) & (yr <= year[1])
    if explicit is not None:
        ok &= items["explicit"].to_numpy() == explicit
    if energy:
        e = items["energy"].to_numpy()
        ok &= (e >= energy[0]) & (e <= energy[1])
    if clusters:
        ok &= np.isin(items["cluster"].to_numpy(), clusters)
    recency = (yr - yr.min()) / (yr.max() - yr.min())
    final = s - novelty * parts["popularity"].astype(np.float64) + freshness * recency
    order = sorted(np.flatnonzero(ok), key=lambda i: -final[i])
    chosen = [order[p] for p in capped_walk((list(items["artist_ids"][i]) for i in order), k, cap)]
    return [tid(i) for i in chosen], s[chosen]


OPTION_CASES = [
    {},
    {"cap": 1, "k": 25},
    {"cap": None, "k": 30},
    {"year": (1960, 1964), "k": 10},  # selective: the candidate set must grow
    {"explicit": False},
    {"explicit": True, "k": 5},
    {"energy": (0.2, 0.5)},
    {"clusters": [1, 2], "k": 15},
    {"novelty": 0.8, "k": 12},
    {"freshness": 0.6, "novelty": 0.3, "k": 12},
]


@pytest.mark.parametrize("n_without", [0, 10, 220], ids=["all-factors", "some-without", "compact"])
@pytest.mark.parametrize("case", OPTION_CASES, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()) or "default")
def test_recommend_equals_full_pass_reference(tmp_path, case, n_without) -> None:
    rec, parts = _publish(tmp_path, n_items=300, rank=8, seed=1, n_without_factors=n_without)
    history = {tid(i): float(1 + i % 5) for i in (0, 3, 9, 12, 30, 4, 61)}
    opts = dict(case)
    k = opts.pop("k", 20)
    expected_ids, expected_scores = reference(parts, rec.fold_in(history), known=rec.index_of(list(history)),
                                              k=k, **opts)
    out = rec.recommend(history, Options(discovery=None,
        k=k, max_per_artist=opts.get("cap", 2), year_range=opts.get("year"),
        explicit=opts.get("explicit"), energy_range=opts.get("energy"), clusters=opts.get("clusters"),
        novelty=opts.get("novelty", 0.0), freshness=opts.get("freshness", 0.0),
    ))
    assert out.path == "als"
    assert list(out.track_ids) == expected_ids
    np.testing.assert_allclose(out.scores, expected_scores, rtol=1e-9, atol=1e-12)
    assert np.all(np.diff(out.rank_scores) <= 1e-12)


def test_artist_cap_and_filters_hold(rec, served) -> None:
    items = served[1]["items"].set_index("track_id")
    history = group_history(0, 8)
    free = rec.recommend(history, Options(discovery=None, k=40, max_per_artist=None))
    per_artist = items.loc[list(free.track_ids), "artists"].map(lambda a: a[0]).value_counts()
    assert per_artist.max() > 2  # the data makes the cap bite
    for cap in (1, 2):
        out = rec.recommend(history, Options(discovery=None, k=40, max_per_artist=cap))
        assert items.loc[list(out.track_ids), "artists"].map(lambda a: a[0]).value_counts().max() <= cap
        assert not set(out.track_ids) & set(history)
    out = rec.recommend(history, Options(discovery=None, k=30, year_range=(1970, 1990), explicit=False, energy_range=(0.1, 0.9),
                                         clusters=[0, 2], exclude_ids=[free.track_ids[0]],
                                         exclude_artists=["Artist 2", "a5"]))
    chosen = items.loc[list(out.track_ids)]
    assert len(out) > 0
    assert chosen["year"].between(1970, 1990).all()
    assert not chosen["explicit"].any()
    assert chosen["energy"].between(0.1, 0.9).all()
    assert chosen["cluster"].isin([0, 2]).all()
    assert free.track_ids[0] not in out.track_ids
    assert not chosen["artist_ids"].map(lambda a: bool({"a2", "a5"} & set(a))).any()
    with_known = rec.recommend(history, Options(discovery=None, k=40, exclude_known=False, max_per_artist=None))
    assert set(history) & set(with_known.track_ids)


def test_recommendations_stay_in_the_listeners_group(rec) -> None:
    out = rec.recommend(group_history(1, 8), Options(discovery=None, k=10))
    assert all(int(t) % 3 == 1 for t in out.track_ids)
    assert all(e.cluster == 1 for e in out.explanations)


# -- explanations -------------------------------------------------------------------------------


def test_explanation_contributions_sum_to_the_score(rec, served) -> None:
    history = {**group_history(2, 7), tid(1): 2.0}
    out = rec.recommend(history, Options(discovery=None, k=15))
    x = rec.fold_in(history)
    y = served[1]["item_factors"].astype(np.float64)
    for t, score, e in zip(out.track_ids, out.scores, out.explanations):
        assert math.isclose(score, y[int(t)] @ x, rel_tol=1e-9, abs_tol=1e-12)
        assert len(e.because) == 3
        values = [c.value for c in e.because]
        assert values == sorted(values, reverse=True)
        assert math.isclose(sum(values) + e.rest, score, rel_tol=1e-9, abs_tol=1e-12)
        assert {c.track_id for c in e.because} <= set(history)
        full = rec.explain(history, t)
        assert len(full.because) == len(history) and full.rest == pytest.approx(0.0, abs=1e-12)
        assert math.isclose(sum(c.value for c in full.because), score, rel_tol=1e-9, abs_tol=1e-12)
        assert math.isclose(sum(abs(c.share) for c in full.because), 1.0, rel_tol=1e-9)
    # The group-2 history tracks explain group-2 recommendations, not the stray group-1 track.
    assert all(int(e.because[0].track_id) % 3 == 2 for e in out.explanations)


@pytest.mark.parametrize("n_items", [3, 40])
def test_contributions_equal_the_formula_whichever_side_is_solved(n_items: int) -> None:
    """Entry (i, j) is c_j · y_iᵀ A⁻¹ y_j and row i sums to y_iᵀx, whether the solve runs on
    the explained items (fewer than the history's 12) or on the history rows (more)."""
    rng = np.random.default_rng(n_items)
    y_hist, items = rng.normal(size=(12, 6)), rng.normal(size=(n_items, 6))
    fold = solve_batch(np.eye(6) * 0.5, [y_hist], [1.0 + rng.gamma(2.0, size=12)], reg_param=0.1)[0]
    got = contributions(fold, items)
    inverse = np.linalg.inv(fold.system)
    assert got.shape == (n_items, 12)
    assert np.allclose(got, (items @ inverse @ y_hist.T) * fold.confidence[None, :], rtol=1e-12, atol=1e-13)
    assert np.allclose(got.sum(axis=1), items @ fold.x, rtol=1e-10, atol=1e-12)


# -- cold start ---------------------------------------------------------------------------------


def test_cold_start_popularity_path(rec, served) -> None:
    popularity = served[1]["popularity"]
    out = rec.recommend({}, Options(discovery=None, k=10, max_per_artist=None))
    assert out.path == "cold-start:popularity"
    assert [int(t) for t in out.track_ids] == list(np.argsort(-popularity, kind="stable")[:10])
    assert out.explanations[0].reasons[0].kind == "popularity"
    assert rec.recommend(None, Options(discovery=None, k=3)).path == "cold-start:popularity"


def test_cold_start_seed_paths(rec, served) -> None:
    items = served[1]["items"].set_index("track_id")
    by_genre = rec.recommend(None, Options(discovery=None, k=10, seed_genres=["Genre1"]))
    assert by_genre.path == "cold-start:seeds"
    assert all(items.loc[t, "genres"][0] == "genre1" for t in by_genre.track_ids)
    assert all(any(r.kind == "genre" for r in e.reasons) for e in by_genre.explanations)

    by_track = rec.recommend(None, Options(discovery=None, k=10, seed_tracks=[tid(5), tid(8)]))  # group 2
    assert by_track.path == "cold-start:seeds"
    assert all(int(t) % 3 == 2 for t in by_track.track_ids)
    assert not {tid(5), tid(8)} & set(by_track.track_ids)

    by_cluster = rec.recommend(None, Options(discovery=None, k=10, seed_clusters=[0]))
    assert all(items.loc[t, "cluster"] == 0 for t in by_cluster.track_ids)

    by_artist = rec.recommend(None, Options(discovery=None, k=10, seed_artists=["Artist 4", "nobody", "a7"], seed_genres=["no-such"],
                                            seed_clusters=[99]))
    assert by_artist.path == "cold-start:seeds"
    assert set(by_artist.unknown_seeds) == {"nobody", "no-such", "cluster 99"}
    artists = items.loc[list(by_artist.track_ids), "artists"].map(lambda a: a[0])
    assert {"Artist 4", "Artist 7"} <= set(artists)
    assert artists.value_counts().max() <= 2
    assert any(r.kind == "artist" for e in by_artist.explanations for r in e.reasons)

    # Known history tracks without factors act as seeds (content path), and are reported.
    no_factors = {tid(i): 1.0 for i in range(290, 300) if i % 3 == 1}
    cold = rec.recommend(no_factors, Options(discovery=None, k=8))
    assert cold.path == "cold-start:seeds" and set(cold.without_factors) == set(no_factors)
    assert sum(int(t) % 3 == 1 for t in cold.track_ids) >= 7


# -- batched ------------------------------------------------------------------------------------


@pytest.mark.parametrize("n_without", [10, 220], ids=["full-scan", "compact"])
def test_recommend_many_equals_single_calls(tmp_path, n_without) -> None:
    rec, _ = _publish(tmp_path, n_items=300, rank=8, seed=0, n_without_factors=n_without)
    histories = [group_history(0), {}, group_history(1, 4, start=5), {"ghost": 1.0},
                 {tid(299): 2.0}, group_history(2, 20), {**group_history(0, 2), **group_history(1, 2)}]
    options = {"max_per_artist": 1, "novelty": 0.2, "year_range": (1965, 2015)}
    many = rec.recommend_many(histories, Options(discovery=None, k=12, **options))
    assert len(many) == len(histories)
    for h, got in zip(histories, many):
        want = rec.recommend(h, Options(discovery=None, k=12, **options))
        assert got.path == want.path
        assert got.track_ids == want.track_ids
        assert got.unknown_ids == want.unknown_ids
        np.testing.assert_allclose(got.scores, want.scores, rtol=1e-10, atol=1e-12)
        for a, b in zip(got.explanations, want.explanations):
            assert [c.track_id for c in a.because] == [c.track_id for c in b.because]
            np.testing.assert_allclose([c.value for c in a.because], [c.value for c in b.because], rtol=1e-9)


# -- similar ------------------------------------------------------------------------------------


def test_similar_finds_same_group_neighbours_by_factors(rec) -> None:
    out = rec.similar(tid(4), k=10)
    assert tid(4) not in out.track_ids and len(out) == 10
    assert all(int(t) % 3 == 1 for t in out.track_ids)
    assert "factors" in out.signals
    assert np.all(np.diff(out.scores) <= 0)


def test_similar_reaches_items_without_factors_via_audio(rec) -> None:
    # Query without factors: only audio can find neighbours.
    out = rec.similar(tid(295), k=10)
    assert out.signals == ("audio",) * 10
    assert all(int(t) % 3 == 295 % 3 for t in out.track_ids)
    assert np.isnan(out.factor_sims).all() and np.isfinite(out.audio_sims).all()
    # Query with factors: unplayed tracks of its group are still reachable, through audio.
    wide = rec.similar(tid(2), k=120)
    unplayed = [(t, s) for t, s in zip(wide.track_ids, wide.signals) if int(t) >= 290]
    assert unplayed and all(s == "audio" and int(t) % 3 == 2 for t, s in unplayed)


def test_similar_trusts_audio_for_items_few_people_played(tmp_path) -> None:
    parts = random_bundle_parts(n_items=120, rank=6, seed=4, n_without_factors=0)
    listeners = np.full(120, 50.0)
    listeners[7] = 0.0  # in the model, but no listener evidence worth trusting
    version = publish_bundle(tmp_path, **{**parts, "extra": {"item_listeners": listeners}})
    rec = Recommender(load_bundle(tmp_path / version))
    assert set(rec.similar(tid(7), k=5).signals) == {"audio"}
    assert "factors" in rec.similar(tid(8), k=5).signals
    with pytest.raises(ValueError, match="unknown track id"):
        rec.similar("nope")


# -- helpers and contracts ---------------------------------------------------------------------


def test_select_top_is_exact_on_large_arrays() -> None:
    rng = np.random.default_rng(7)
    scores = rng.normal(size=200_000).astype(np.float32)
    scores[rng.choice(len(scores), 5_000, replace=False)] = -np.inf
    for m in (1, 50, 700):
        got = select_top(scores, m)
        np.testing.assert_array_equal(scores[got], np.sort(scores)[::-1][:m])
    sorted_desc = np.sort(rng.normal(size=100_000))[::-1].copy()  # adversarial order for the sample
    np.testing.assert_array_equal(select_top(sorted_desc, 30), np.arange(30))


@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 4_099, 200_003])
def test_flatnonzero_sparse_is_numpys(n: int) -> None:
    """The same positions as np.flatnonzero at every density (its word walk below one 8-byte
    word in 32 holding a True, numpy's above), with whole words true, a tail shorter than a
    word, and from a strided view."""
    rng = np.random.default_rng(n)
    for density in (0.0, 0.001, 0.003, 0.05, 1.0, "words"):
        if density == "words":  # few words, each all true: the walk reads several per word
            mask = np.repeat(rng.random(-(-n // 8)) < 0.01, 8)[:n]
        else:
            mask = rng.random(n) < density
        if n > 8:
            mask[-1] = True  # the tail past the last full word is read too
        np.testing.assert_array_equal(flatnonzero_sparse(mask), np.flatnonzero(mask))
        np.testing.assert_array_equal(flatnonzero_sparse(mask[::3]), np.flatnonzero(mask[::3]))
        assert flatnonzero_sparse(mask).dtype == np.flatnonzero(mask).dtype


def test_frame_names_tracks_and_reasons(rec) -> None:
    history = group_history(0)
    out = rec.recommend(history, Options(discovery=None, k=5))
    frame = rec.frame(out)
    assert list(frame["track_id"]) == list(out.track_ids)
    assert frame["name"].iloc[0] == f"Song {int(out.track_ids[0])}"
    assert all(len(b) == 3 and set(b) <= {f"Song {int(t)}" for t in history} for b in frame["because"])
    items = rec.bundle.items.set_index("track_id")
    assert [list(a) for a in items.loc[list(out.track_ids), "artist_ids"]] == frame["artist_ids"].tolist()
    cold = rec.frame(rec.recommend(None, Options(discovery=None, k=4, seed_genres=["Genre1"])))
    assert all(isinstance(r, Reason) for reasons in cold["reasons"] for r in reasons)  # typed, not "kind: detail"
    assert any(r.kind == "genre" for r in cold["reasons"].iloc[0])


def test_options_is_the_one_validated_request(rec) -> None:
    opts = Options(discovery=None, k=7, clusters=[], exclude_ids=iter(["t1"]), year_range=(1970, 1980), explicit=False)
    assert opts.clusters is None and opts.filters.clusters is None  # a cleared multiselect: no filter
    assert opts.exclude_ids == ("t1",) and opts.filters.year_range == (1970.0, 1980.0)
    assert opts.filters.explicit is False and opts == Options(discovery=None, k=7, exclude_ids=("t1",), year_range=(1970, 1980),
                                                               explicit=False)
    assert Options(discovery=None) == Options(discovery=None, k=20, max_per_artist=2, exclude_known=True, explain=True)  # recommend's defaults
    with pytest.raises(ValueError, match="novelty"):
        dataclasses.replace(opts, novelty=-1.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        opts.k = 3  # type: ignore[misc]
    with pytest.raises(TypeError, match="Options"):
        rec.recommend(group_history(0), 5)  # the old positional k
    with pytest.raises(TypeError, match="Options"):
        rec.recommend_many([group_history(0)], {"k": 5})


def test_load_serves_the_current_bundle(tmp_path) -> None:
    version = publish_bundle(tmp_path, **random_bundle_parts(n_items=60, rank=4))
    assert Recommender.load(tmp_path).version == version


def test_serving_imports_neither_pyspark_nor_streamlit() -> None:
    code = ("import sys, engine.serving.recommender; bad = [m for m in ('pyspark', 'streamlit', 'py4j') "
            "if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"novelty": -0.1}, "novelty"),
        ({"freshness": float("nan")}, "freshness"),
        ({"year_range": (2000, 1990)}, "year_range"),
        ({"energy_range": "loud"}, "energy_range"),
        ({"max_per_artist": -1}, "max_per_artist"),
        ({"explicit": "no"}, "explicit"),
    ],
)
def test_bad_options_are_rejected_naming_the_argument(rec, options, message) -> None:
    with pytest.raises(ValueError, match=message):
        rec.recommend(group_history(0), Options(discovery=None, k=5, **options))
    with pytest.raises(TypeError, match="mapping"):
        rec.recommend([tid(0)], Options(discovery=None, k=5))


def test_serving_reads_the_arrow_backed_columns_only(served) -> None:
    """The 600k items table takes ~550 MiB as pandas objects and ~80 MiB Arrow-backed: serving
    (recommend, the lists, similar, explain, frame) never builds the object-backed frame, and
    gives what a recommender over that frame's values gives (the full-pass references above
    are computed from it)."""
    rec = served[0]
    fresh = Recommender(load_bundle(rec.bundle.path))
    history = {**group_history(2, 5), tid(296): 1.0}
    for kwargs in ({}, {"seed_artists": ["Artist 4"], "seed_genres": ["genre0"]}):
        h = history if not kwargs else {}
        a, b = rec.recommend(h, Options(discovery=None, k=12, **kwargs)), fresh.recommend(h, Options(discovery=None, k=12, **kwargs))
        assert a.track_ids == b.track_ids and a.path == b.path
        assert a.explanations == b.explanations
    assert fresh.lists(history, Options(k=8)).blended.track_ids
    assert rec.similar(tid(5), k=8).track_ids == fresh.similar(tid(5), k=8).track_ids
    fresh.explain_many(history, [tid(7), tid(8)])
    frame = fresh.frame(fresh.recommend(history, Options(discovery=None, k=3)))
    assert frame["artists"].map(len).min() >= 1 and frame["name"].str.startswith("Song ").all()
    assert "items" not in fresh.bundle.__dict__  # the object-backed frame was never made
    assert isinstance(fresh.bundle.items, pd.DataFrame) and "items" in fresh.bundle.__dict__  # on first use
    assert fresh.bundle.items["track_id"].tolist() == list(fresh.track_ids)
