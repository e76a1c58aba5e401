"""The two lists equal a dense full-catalogue reference (engine.serving.lists, Recommender.lists).

The served lists work on candidate sets and precomputed orders (one full pass: ``Y @ x``); the
reference here scores every item of the catalogue with the formulas of
:mod:`engine.serving.lists`, written densely and independently: served model score, its
z-score, the listener's artist shares, each list's score, the new list's one track per first
artist, the filters and the greedy artist cap. Both lists must come out the same, in order,
with the same scores.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.bundle.load import load_bundle
from engine.bundle.publish import write_bundle
from engine.core.config import ROOT
from engine.serving.lists import ListWeights, blend_order
from engine.serving.options import Options
from engine.serving.recommender import Recommender
from engine.serving.rerank import Ranked, _cap_artists
from tests.factories import random_bundle_parts
from tests.references import capped_walk

DEMO = ROOT / "models" / "demo"


def credited(rec: Recommender) -> list[list[int]]:
    """Each item's distinct credited artist codes, first-credited first."""
    ptr, codes = rec.arrays.artist_ptr, rec.arrays.artist_codes
    return [list(dict.fromkeys(codes[ptr[i] : ptr[i + 1]].tolist())) for i in range(len(ptr) - 1)]


def greedy(final: np.ndarray, ok: np.ndarray, artists: list[list[int]], k: int, cap: int | None) -> list[int]:
    """The first ``k`` items by ``final`` (descending) among ``ok`` that respect the artist cap."""
    order = sorted(np.flatnonzero(ok & np.isfinite(final)).tolist(), key=lambda i: (-final[i], i))
    return [order[p] for p in capped_walk((artists[i] for i in order), k, cap)]


def dense_lists(rec: Recommender, history: dict[str, float], opts: Options) -> tuple[list[int], list[int], np.ndarray, np.ndarray]:
    """(familiar items, new items, their rank scores) by the dense reference."""
    w: ListWeights = rec.list_weights
    n = rec.bundle.n_items
    artists = credited(rec)
    has = rec.arrays.has_factors
    known = rec.index_of(list(history))
    weights = np.zeros(rec.artists.n_artists)
    for i, value in zip(known.tolist(), history.values()):
        for a in artists[i]:
            weights[a] += value
    damped = np.log1p(weights)
    share = damped / damped.sum()
    own = share > 0
    rows = np.flatnonzero(has)
    model = np.zeros(n)
    model[rows] = rec.score_items([history], rows)[0]
    z = np.zeros(n)
    z[rows] = (model[rows] - model[rows].mean()) / model[rows].std()
    pop = rec._catalog_popularity
    prior, recency = rec.arrays.popularity.astype(np.float64), rec.arrays.recency.astype(np.float64)
    fam_cand = np.array([any(own[a] for a in arts) for arts in artists])
    log_share = np.where(own, np.log(np.where(own, share, 1.0)), -np.inf)
    familiar = np.full(n, -np.inf)
    for i in np.flatnonzero(fam_cand).tolist():
        familiar[i] = max(log_share[a] for a in artists[i]) + w.familiar_popularity * pop[i] + w.familiar_model * z[i]
    spread = rec.artists.spread(share)
    artist_score = w.new_similarity * spread / spread.max()
    if rec.artists.has_factors.any():
        f = rec.artists.factor_scores(weights)
        ok = np.isfinite(f)
        zf = np.zeros(len(f))
        zf[ok] = (f[ok] - f[ok].mean()) / f[ok].std()
        artist_score = artist_score + w.new_factors * zf
    new = np.array([max(artist_score[a] for a in arts) if arts else 0.0 for arts in artists])
    new = new + w.new_model * z + w.new_popularity * pop
    new[fam_cand] = -np.inf
    blocked = np.zeros(n, dtype=bool)
    if opts.exclude_known:
        blocked[known] = True
    blocked[rec._excluded(opts)] = True
    familiar[blocked] = new[blocked] = -np.inf
    passes = opts.filters.mask(rec.arrays, np.arange(n))
    new[~passes] = -np.inf
    ranking = new - opts.novelty * prior + opts.freshness * recency
    first = np.array([arts[0] if arts else -1 for arts in artists])
    best = {}
    for i in range(n):
        if first[i] >= 0 and np.isfinite(ranking[i]):
            best[first[i]] = max(best.get(first[i], -np.inf), ranking[i])
    keep = np.array([first[i] >= 0 and np.isfinite(ranking[i]) and ranking[i] >= best[first[i]] for i in range(n)])
    new[~keep] = -np.inf
    cap = opts.max_per_artist
    fam_final = familiar - opts.novelty * prior + opts.freshness * recency
    new_final = new - opts.novelty * prior + opts.freshness * recency
    fam = greedy(fam_final, passes, artists, opts.k, cap)
    nw = greedy(new_final, passes, artists, opts.k, min(cap, 1) if cap else 1)
    return fam, nw, fam_final[fam], new_final[nw]


def rich_bundle(tmp_path: Path, n_without: int) -> Recommender:
    """A random bundle with several artists per track, genres, items without factors, neighbours."""
    parts = random_bundle_parts(n_items=600, rank=8, n_groups=4, n_without_factors=n_without, seed=3)
    rng = np.random.default_rng(4)
    items = parts["items"]
    ids = [[f"a{a}" for a in dict.fromkeys(rng.integers(0, 70, size=rng.choice([1, 1, 2, 3])).tolist())]
           for _ in range(len(items))]
    items["artist_ids"] = ids
    items["artists"] = [[f"Artist {a[1:]}" for a in row] for row in ids]
    items["genres"] = [[f"genre{g}" for g in rng.choice(12, size=rng.integers(0, 3), replace=False)] for _ in ids]
    n = len(items)
    top = 20
    neighbours = rng.integers(0, n, size=(n, top)).astype(np.int32)
    scores = -np.sort(-rng.random((n, top), dtype=np.float32), axis=1)
    parts["extra"] = {"neighbours_indptr": np.arange(0, n * top + 1, top, dtype=np.int64),
                      "neighbours_indices": neighbours.ravel(), "neighbours_scores": scores.ravel(),
                      "item_listeners": rng.integers(1, 500, size=n).astype(np.float32)}
    parts["params"] = {**parts["params"], "blend": {"neighbours": 0.4, "neighbour_pop_exponent": 0.3,
                                                    "popularity": 0.2}}
    write_bundle(tmp_path / "b", **parts)
    return Recommender(load_bundle(tmp_path / "b"))


CASES = [
    Options(k=12),
    Options(k=20, max_per_artist=1, novelty=0.4, freshness=0.3),
    Options(k=8, max_per_artist=None, year_range=(1965, 2000), explicit=False),
    Options(k=10, exclude_known=False, exclude_artists=["a3", "a7"]),
]


def same_up_to_ties(got: np.ndarray, got_scores: np.ndarray, want: list[int], want_scores: np.ndarray) -> None:
    """The same items in the same order, except that items of equal score may swap (and, at the
    end of the list, a tied item may stand for another)."""
    np.testing.assert_allclose(got_scores, want_scores, rtol=1e-5, atol=1e-5)
    assert len(got) == len(want)
    groups = np.round(np.asarray(want_scores), 5)
    for value in np.unique(groups)[1:]:  # every tie group but the lowest: the same items
        assert set(np.asarray(got)[groups == value].tolist()) == set(np.asarray(want)[groups == value].tolist())


def check(rec: Recommender, history: dict[str, float], opts: Options) -> None:
    lists = rec.lists(history, opts)
    fam, nw, fam_scores, new_scores = dense_lists(rec, history, opts)
    same_up_to_ties(lists.familiar.indices, lists.familiar.rank_scores, fam, fam_scores)
    same_up_to_ties(lists.new.indices, lists.new.rank_scores, nw, new_scores)
    got_fam, got_new = lists.familiar, lists.new
    order = blend_order(Ranked(got_fam.indices, got_fam.rank_scores, got_fam.rank_scores),
                        Ranked(got_new.indices, got_new.rank_scores, got_new.rank_scores),
                        k=opts.k, discovery=float(opts.discovery))  # type: ignore[arg-type]
    expected = [(got_fam if name == "familiar" else got_new).indices[j] for name, j in order]
    assert lists.blended.indices.tolist() == expected
    served = rec.recommend(history, opts)
    assert served.indices.tolist() == expected
    assert [e.reasons for e in served.explanations] == [e.reasons for e in lists.blended.explanations]


@pytest.mark.parametrize("n_without", [0, 40, 400], ids=["all-factors", "some-without", "compact"])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_lists_equal_the_dense_reference_on_a_blended_bundle(tmp_path, n_without, case) -> None:
    rec = rich_bundle(tmp_path, n_without)
    assert rec.blend is not None
    ids = rec.bundle.items["track_id"]
    history = {ids[i]: float(1 + i % 4) for i in (0, 5, 17, 33, 120, 121, 250)}
    check(rec, history, CASES[case])


def test_lists_equal_the_dense_reference_on_the_demo_bundle() -> None:
    rec = Recommender(load_bundle(DEMO))
    history = rec.bundle.tables["demo_history"].query("user_id == 'demo:0003'")
    listening = dict(zip(history["track_id"], history["weight"].astype(float)))
    for opts in CASES[:2]:
        check(rec, listening, opts)
    assert isinstance(rec.bundle.items, pd.DataFrame)


def test_the_artist_cap_equals_the_greedy_walk_on_random_credits() -> None:
    """The cap drops in numpy only what the greedy walk would reject: same picks, same order."""
    rng = np.random.default_rng(0)
    for _ in range(300):
        n, n_artists = int(rng.integers(1, 300)), int(rng.integers(3, 20))
        sizes = rng.choice([0, 1, 1, 1, 2, 3], size=n)
        ptr = np.concatenate([[0], np.cumsum(sizes)])
        codes = np.concatenate([rng.choice(n_artists, size=s, replace=False) for s in sizes] + [np.zeros(0, int)])
        arrays = type("A", (), {"artist_ptr": ptr, "artist_codes": codes.astype(np.int32),
                                "artist_ids": np.arange(n_artists)})()
        items = rng.permutation(n)[: int(rng.integers(1, n + 1))]
        k, cap = int(rng.integers(1, 60)), int(rng.integers(1, 4))
        walk = capped_walk((codes[ptr[item] : ptr[item + 1]].tolist() for item in items.tolist()), k, cap)
        assert _cap_artists(items, arrays, k=k, cap=cap).tolist() == walk  # type: ignore[arg-type]


def test_a_new_list_that_cannot_fill_k_ends_with_what_there_is(tmp_path) -> None:
    """With fewer than k new-artist picks the floor is -inf; the candidate loop must still end
    (it once asked again for the blocked tracks forever: the cluster test's small bundle hung)."""
    rec = rich_bundle(tmp_path, 0)
    items = rec.bundle.items
    firsts = [row[0] for row in items["artist_ids"]]
    spare = set(sorted(set(firsts))[:2])
    # one track of every first artist but two: little is left for "New to you"
    history = {tid: 1.0 for first, tid in dict(zip(firsts, items["track_id"])).items() if first not in spare}
    lists = rec.lists(history, Options(k=40))
    assert len(lists.new.indices) < 40
    check(rec, history, Options(k=40))
