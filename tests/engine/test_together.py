"""Blend two listeners (engine.serving.together) against brute force on a small Recommender.

The taste match is symmetric, 100 % for the same listener, lower for disjoint tastes and
bounded; the shared list's scores are the documented soft minimum of percentiles counted by
hand from ``Y @ x``, each side keeps its share of the list, at most two tracks per artist,
known tracks stay out, and swapping the listeners swaps only the sides.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from engine.bundle.load import load_bundle
from engine.core.config import ROOT
from engine.serving import together
from engine.serving.listening import Listening
from engine.serving.options import Options
from engine.serving.recommender import Recommender
from engine.serving.rerank import ItemArrays
from engine.serving.together import (
    BALANCE,
    BOTH_RATIO,
    MIX,
    SIDE_A,
    SIDE_B,
    SIDE_BOTH,
    balanced_top,
    percentiles,
    shared_list,
    soft_min,
    taste_match,
)
from tests.engine.test_blend import WEIGHTS, planted_neighbours
from tests.factories import published_recommender, random_bundle_parts

N_ITEMS = 300
DEMO = ROOT / "models" / "demo"


def tid(i: int) -> str:
    return f"{i:022d}"


def group_history(group: int, n: int, *, offset: int = 0) -> dict[str, float]:
    """``n`` tracks of one planted factor group (items ``i % 3 == group``), weights 1..5."""
    rows = list(range(group, N_ITEMS - 20, 3))[offset:offset + n]
    return {tid(i): 1.0 + i % 5 for i in rows}


A = group_history(0, 10)
B = group_history(1, 10)
#: A lopsided pair: without the balance rule B's side takes 14 of 20 slots.
FEW, MANY = group_history(0, 3), group_history(1, 40)


def _publish(tmp: Path, *, blended: bool) -> Recommender:
    parts = random_bundle_parts(n_items=N_ITEMS, rank=8, seed=0)
    if blended:
        parts["params"] = {**parts["params"], "blend": WEIGHTS.to_dict()}
        parts["extra"] = planted_neighbours().to_extra()
    return published_recommender(tmp, parts)


@pytest.fixture(scope="module")
def rec(tmp_path_factory: pytest.TempPathFactory) -> Recommender:
    return _publish(tmp_path_factory.mktemp("als"), blended=False)


@pytest.fixture(scope="module")
def blended(tmp_path_factory: pytest.TempPathFactory) -> Recommender:
    return _publish(tmp_path_factory.mktemp("blend"), blended=True)


def counted_percentile(values: np.ndarray, i: int) -> float:
    """Brute force: (items below + half the other ties) / (n − 1)."""
    below = float((values < values[i]).sum())
    ties = float((values == values[i]).sum()) - 1.0
    return (below + 0.5 * ties) / (len(values) - 1)


def artists_of(rec: Recommender, items: np.ndarray) -> list[list[int]]:
    arrays = rec.arrays
    return [arrays.artists_of(int(i)).tolist() for i in items]


# -- the taste match --------------------------------------------------------------------------


def test_taste_match_is_symmetric_bounded_and_100_for_the_same_listener(rec: Recommender) -> None:
    rng = np.random.default_rng(3)
    for _ in range(30):
        pick = [rng.choice(N_ITEMS - 20, size=int(rng.integers(1, 25)), replace=False) for _ in range(2)]
        h1, h2 = ({tid(int(i)): float(rng.integers(1, 50)) for i in p} for p in pick)
        ab, ba = taste_match(rec, h1, h2), taste_match(rec, h2, h1)
        assert ab.percent == pytest.approx(ba.percent) and ab.overlap == pytest.approx(ba.overlap)
        assert 0.0 <= ab.percent <= 100.0 and 0.0 <= ab.overlap <= 1.0
        assert taste_match(rec, h1, h1).percent == pytest.approx(100.0)


def test_the_match_is_the_documented_mix_of_cosine_and_artist_overlap(rec: Recommender) -> None:
    m = taste_match(rec, A, B)
    x_a, x_b = rec.fold_in(A), rec.fold_in(B)
    cosine = float(x_a @ x_b / np.linalg.norm(x_a) / np.linalg.norm(x_b))
    share = [np.log1p(rec.artist_weights(h)) / np.log1p(rec.artist_weights(h)).sum() for h in (A, B)]
    overlap = float(np.minimum(*share).sum())
    assert m.cosine == pytest.approx(cosine)
    assert m.overlap == pytest.approx(overlap) and overlap > 0  # the planted artists span the groups
    assert m.percent == pytest.approx(100 * (0.5 * max(0.0, cosine) + 0.5 * overlap))
    assert set(m.shared_artists) == set(np.flatnonzero(np.minimum(*share) > 0).tolist())


def test_disjoint_tastes_match_less_than_close_ones(rec: Recommender) -> None:
    close = taste_match(rec, A, group_history(0, 10, offset=5))  # same group, half the tracks shared
    # the same group's tracks by other artists, and another group's tracks by other artists
    artist = {tid(i): (i // 3) % 30 for i in range(N_ITEMS)}
    mine = {artist[t] for t in A}
    other_group = {tid(i): 2.0 for i in range(1, N_ITEMS - 20, 3) if artist[tid(i)] not in mine}
    disjoint = taste_match(rec, A, other_group)
    assert disjoint.overlap == 0.0 and not disjoint.shared_artists
    assert disjoint.percent < close.percent
    assert disjoint.percent == pytest.approx(50 * max(0.0, disjoint.cosine or 0.0))


def test_a_listener_without_a_fold_in_is_matched_on_artists_alone(rec: Recommender) -> None:
    by_artist = Listening(tracks={}, artists={"a0": 5.0, "a3": 2.0})
    m = taste_match(rec, A, by_artist)
    assert m.cosine is None and 0 < m.percent == pytest.approx(100 * m.overlap)
    assert taste_match(rec, by_artist, by_artist).percent == pytest.approx(100.0)


# -- the shared list --------------------------------------------------------------------------


def test_the_soft_minimum_lies_between_the_minimum_and_the_mean() -> None:
    rng = np.random.default_rng(5)
    p, q = rng.uniform(size=200), rng.uniform(size=200)
    s = soft_min(p, q)
    assert s == pytest.approx(soft_min(q, p))
    assert (s >= np.minimum(p, q) - 1e-12).all() and (s <= (p + q) / 2 + 1e-12).all()
    assert soft_min(p, q, 0.0) == pytest.approx(np.minimum(p, q)) and soft_min(p, q, 1.0) == pytest.approx((p + q) / 2)
    assert soft_min(np.ones(1), np.zeros(1)).tolist() == [MIX / 2]  # one side at 0 keeps it low


def test_percentiles_count_below_and_half_the_ties() -> None:
    values = np.array([3.0, 1.0, 3.0, 2.0, 5.0, 3.0, -1.0])
    assert percentiles(values) == pytest.approx([counted_percentile(values, i) for i in range(len(values))])
    assert percentiles(np.array([7.0])).tolist() == [1.0]


@pytest.mark.parametrize("k", [5, 20, 40])
def test_combined_scores_equal_the_formula_counted_by_brute_force(rec: Recommender, k: int) -> None:
    out = shared_list(rec, A, B, Options(k=k))
    rows = np.flatnonzero(rec.arrays.has_factors)
    factors = np.asarray(rec.bundle.item_factors)
    # an ALS-only bundle serves y_iᵀx, nominated in float32 over the whole catalogue
    scores = [(factors @ rec.fold_in(h).astype(np.float32))[rows].astype(np.float64) for h in (A, B)]
    position = {int(r): j for j, r in enumerate(rows)}
    assert len(out) == k and out.n_scored == len(rows)
    for item, score, (p_a, p_b), side, strong in zip(out.indices.tolist(), out.scores, out.percentiles,
                                                     out.sides, out.stronger):
        j = position[item]
        want_a, want_b = counted_percentile(scores[0], j), counted_percentile(scores[1], j)
        assert (p_a, p_b) == pytest.approx((want_a, want_b))
        assert score == pytest.approx((1 - MIX) * min(want_a, want_b) + MIX * (want_a + want_b) / 2)
        assert strong == (SIDE_A if want_a > want_b else SIDE_B if want_b > want_a else SIDE_BOTH)
        rank_a, rank_b = (1 + (1 - p) * (len(rows) - 1) for p in (want_a, want_b))
        assert side == (SIDE_BOTH if max(rank_a, rank_b) <= BOTH_RATIO * min(rank_a, rank_b) else strong)
    assert list(out.scores) == sorted(out.scores, reverse=True)


def test_the_served_blend_is_what_each_side_is_ranked_by(blended: Recommender) -> None:
    out = shared_list(blended, A, B, Options(k=10))
    rows = np.flatnonzero(blended.arrays.has_factors)
    served = [blended.served_scores(h)[rows] for h in (A, B)]
    # the one-pass float32 scores are the exact served scores (score_items, float64)
    assert np.stack(served) == pytest.approx(blended.score_items([A, B], rows), rel=1e-4, abs=1e-5)
    assert np.isnan(blended.served_scores(A)[~blended.arrays.has_factors]).all()
    position = {int(r): j for j, r in enumerate(rows)}
    for item, (p_a, p_b) in zip(out.indices.tolist(), out.percentiles):
        assert (p_a, p_b) == pytest.approx((counted_percentile(served[0], position[item]),
                                            counted_percentile(served[1], position[item])))


@pytest.mark.parametrize("head", [1, 5, 25])
def test_walking_a_sorted_head_first_gives_the_full_walks_list(
    rec: Recommender, monkeypatch: pytest.MonkeyPatch, head: int
) -> None:
    cases = [(A, B, Options(k=20)), (FEW, MANY, Options(k=20)), (MANY, FEW, Options(k=25, max_per_artist=1)),
             (A, B, Options(k=100, max_per_artist=1))]
    full = [shared_list(rec, a, b, o) for a, b, o in cases]
    monkeypatch.setattr(together, "HEAD_PER_K", 0)
    monkeypatch.setattr(together, "HEAD_MIN", head)
    for (a, b, o), want in zip(cases, full):
        got = shared_list(rec, a, b, o)
        assert got.track_ids == want.track_ids and got.sides == want.sides


@pytest.mark.parametrize("pair", [(A, B), (FEW, MANY), (MANY, FEW), (A, group_history(2, 30))])
@pytest.mark.parametrize("k", [10, 20, 25])
def test_each_side_keeps_its_share_two_per_artist_and_no_known_tracks(
    rec: Recommender, pair: tuple[dict[str, float], dict[str, float]], k: int
) -> None:
    first, second = pair
    out = shared_list(rec, first, second, Options(k=k))
    minimum = int(np.floor(BALANCE * k))
    assert len(out) == k
    assert sum(s in (SIDE_A, SIDE_BOTH) for s in out.stronger) >= minimum
    assert sum(s in (SIDE_B, SIDE_BOTH) for s in out.stronger) >= minimum
    per_artist = np.bincount([a for own in artists_of(rec, out.indices) for a in own])
    assert per_artist.max() <= 2
    assert not set(out.track_ids) & (set(first) | set(second))


def test_the_balance_rule_changes_a_lopsided_list(rec: Recommender) -> None:
    free = shared_list(rec, FEW, MANY, Options(k=20), balance=0.0)
    ruled = shared_list(rec, FEW, MANY, Options(k=20))
    assert sum(s != SIDE_B for s in free.stronger) < 8  # the precondition: B takes most slots
    assert sum(s != SIDE_B for s in ruled.stronger) >= 8
    assert set(ruled.track_ids) != set(free.track_ids)


def test_swapping_the_listeners_swaps_the_sides_and_keeps_the_list(rec: Recommender) -> None:
    for first, second in ((A, B), (FEW, MANY)):
        ab, ba = shared_list(rec, first, second, Options(k=20)), shared_list(rec, second, first, Options(k=20))
        swap = {SIDE_A: SIDE_B, SIDE_B: SIDE_A, SIDE_BOTH: SIDE_BOTH}
        assert ab.track_ids == ba.track_ids
        assert ab.scores == pytest.approx(ba.scores)
        assert ab.percentiles == pytest.approx(ba.percentiles[:, ::-1])
        assert ab.sides == tuple(swap[s] for s in ba.sides)
        assert ab.stronger == tuple(swap[s] for s in ba.stronger)


def test_filters_exclusions_and_the_cap_of_the_request_apply(rec: Recommender) -> None:
    plain = shared_list(rec, A, B, Options(k=10))
    dropped = plain.track_ids[0]
    artist = str(rec.arrays.artist_ids[rec.arrays.artists_of(int(plain.indices[1]))[0]])
    out = shared_list(rec, A, B, Options(k=10, exclude_ids=[dropped], exclude_artists=[artist],
                                         year_range=(1970, 2000), max_per_artist=1))
    assert dropped not in out.track_ids
    assert artist not in {str(rec.arrays.artist_ids[a]) for own in artists_of(rec, out.indices) for a in own}
    assert all(1970 <= y <= 2000 for y in rec.arrays.year[out.indices])
    assert np.bincount([a for own in artists_of(rec, out.indices) for a in own]).max() == 1


def test_a_listener_matched_by_artist_only_is_ranked_by_their_artists() -> None:
    """On the demo bundle (real genres): a listener known only by artists (most real exports)
    gets their side of the list from their artists and the artists similar to them."""
    demo = Recommender(load_bundle(DEMO))
    history = demo.bundle.tables["demo_history"]
    def of(user: str) -> dict[str, float]:
        rows = history[history["user_id"] == user]
        return {str(t): float(w) for t, w in rows.groupby("track_id")["weight"].sum().items()}
    first, second = of("demo:0001"), of("demo:0002")
    rows = demo.index_of(list(second))
    artists: dict[str, float] = {}
    for row, weight in zip(rows.tolist(), second.values()):
        key = str(demo.arrays.artist_ids[demo.arrays.artists_of(row)[0]])
        artists[key] = artists.get(key, 0.0) + weight
    by_artist = Listening(tracks={}, artists=artists)
    out = shared_list(demo, first, by_artist, Options(k=20))
    assert taste_match(demo, first, by_artist).cosine is None
    assert len(out) == 20 and sum(s in (SIDE_B, SIDE_BOTH) for s in out.stronger) >= 8
    own = {demo.arrays.artist_ids[a] for own in artists_of(demo, out.indices) for a in own} & set(artists)
    assert own  # some of the shared tracks are by the second listener's own artists


def test_balanced_top_is_the_best_list_that_keeps_the_balance() -> None:
    """Exhaustive on small cases: the greedy list is the feasible k-subset whose scores, sorted,
    are lexicographically largest (no artist cap here)."""
    rng = np.random.default_rng(11)
    n, k = 10, 5
    arrays = ItemArrays.from_items(
        random_bundle_parts(n_items=n, rank=2, n_groups=2, n_without_factors=0)["items"].assign(
            artist_ids=[[f"x{i}"] for i in range(n)], artists=[[f"X{i}"] for i in range(n)]),
        np.zeros(n, dtype=np.float32))
    for _ in range(40):
        side = rng.integers(0, 3, n)  # 0: A, 1: B, 2: a tie (both)
        side_a, side_b = side != 1, side != 0
        order = rng.permutation(n)  # best first
        minimum = (min(2, int(side_a.sum())), min(2, int(side_b.sum())))
        got = balanced_top(order, side_a, side_b, np.arange(n), arrays, k=k, minimum=minimum, cap=None)
        rank = {int(p): r for r, p in enumerate(order)}
        feasible = [c for c in itertools.combinations(range(n), k)
                    if side_a[list(c)].sum() >= minimum[0] and side_b[list(c)].sum() >= minimum[1]]
        best = min(feasible, key=lambda c: sorted(rank[p] for p in c))
        assert sorted(rank[p] for p in got.tolist()) == sorted(rank[p] for p in best)
