"""The two lists and the dial (engine.serving.lists) and the artist signals behind them."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from engine.bundle.load import load_bundle
from engine.bundle.publish import write_bundle
from engine.core.config import ROOT
from engine.core.errors import BundleError
from engine.core.matching import CatalogIndex
from engine.serving import lists as lists_module
from engine.serving.listening import Listening, listening_from_history
from engine.serving.lists import FAMILIAR, NEW, blend_order
from engine.serving.options import DEFAULT_DISCOVERY, Options
from engine.serving.recommender import Recommender
from engine.serving.rerank import Ranked
from engine.serving.results import PATH_ALS, PATH_ARTISTS, Reason
from tests.factories import random_bundle_parts
from webapp.cards import reason_lines

DEMO = ROOT / "models" / "demo"


@pytest.fixture(scope="module")
def demo() -> Recommender:
    return Recommender(load_bundle(DEMO))


def artists_with_tracks(rec: Recommender, n: int, *, min_tracks: int = 4) -> list[str]:
    """Artist ids of the demo catalogue with at least ``min_tracks`` tracks and genres."""
    counts = rec.artists.n_tracks
    with_genres = np.asarray((rec.artists._genre != 0).sum(axis=1)).ravel() > 0
    codes = np.flatnonzero((counts >= min_tracks) & with_genres)[:n]
    return [str(rec.arrays.artist_ids[c]) for c in codes]


def own_artist_sets(rec: Recommender, track_ids: tuple[str, ...]) -> list[set[str]]:
    ids = rec.bundle.items.set_index("track_id")["artist_ids"]
    return [set(ids[t]) for t in track_ids]


def test_artist_only_listening_gets_both_lists(demo: Recommender) -> None:
    mine = artists_with_tracks(demo, 10)  # 10 artists x 2 tracks each fill a familiar list of 20
    listening = Listening(tracks={}, artists={a: 10_000.0 if i == 2 else 1.0 for i, a in enumerate(mine)})
    lists = demo.lists(listening, Options(k=20))
    assert lists.familiar.path == PATH_ARTISTS  # no track in the ALS model, the artists carry it
    fam, new = own_artist_sets(demo, lists.familiar.track_ids), own_artist_sets(demo, lists.new.track_ids)
    assert fam and all(a & set(mine) for a in fam)  # only the listener's artists ...
    assert fam[0] & {mine[2]}  # ... the most played first
    assert len(new) == 20 and not any(a & set(mine) for a in new)  # only artists absent from the history
    firsts = [sorted(a)[0] for a in new]
    assert len(set(firsts)) == len(firsts)  # one track per new artist
    assert lists.stats[FAMILIAR].share_new == 0.0 and lists.stats[NEW].share_new == 1.0
    assert 0 <= lists.stats[NEW].popularity_percentile <= 100
    # the blend is what recommend serves, with its share of new artists
    served = demo.recommend(listening, Options(k=20))
    assert served.track_ids == lists.blended.track_ids
    assert lists.stats["blended"].share_new == pytest.approx(DEFAULT_DISCOVERY)
    reasons = [r.kind for e in lists.new.explanations for r in e.reasons]
    assert "similar_artist" in reasons and "your_artist" in [r.kind for r in lists.familiar.explanations[0].reasons]


def test_the_dial_moves_the_blend_and_a_shorter_list_is_a_prefix(demo: Recommender) -> None:
    mine = artists_with_tracks(demo, 8)
    listening = Listening(artists={a: 5.0 for a in mine})
    lists = demo.lists(listening, Options(k=20))
    at = {d: demo.recommend(listening, Options(k=20, discovery=d)) for d in (0.0, 0.5, 1.0)}
    n_fam = len(lists.familiar)  # 8 artists x 2: 16, and the new list fills the last 4 slots
    assert n_fam == 16 and at[0.0].track_ids == lists.familiar.track_ids + lists.new.track_ids[:4]
    assert at[1.0].track_ids == lists.new.track_ids
    assert set(at[0.5].track_ids) <= set(lists.familiar.track_ids) | set(lists.new.track_ids)
    assert demo.recommend(listening, Options(k=10, discovery=0.5)).track_ids == at[0.5].track_ids[:10]


def test_artist_scores_given_or_computed_give_the_same_lists(demo: Recommender) -> None:
    """The recommender computes the artist scores beside the fold-in and hands them over;
    without them choose_lists computes the same ones itself."""
    history = {str(t): 2.0 for t in demo.track_ids[:25]}
    hist = demo._parse(history)
    weights = demo._artist_weights(hist)
    model = demo._model_scores(hist)[0]
    request = lists_module.ListRequest(20, 2, Options().filters, 0.0, 0.0)
    given = lists_module.artist_scores(demo.artists, demo._list_tables.weights, weights)
    found = [lists_module.choose_lists(demo.artists, demo._list_tables, model, weights, arrays=demo.arrays,
                                       blocked=hist.known_items, request=request, artist_score=score)
             for score in (None, given)]
    assert len(found[0].new.items) == 20 and len(found[0].familiar.items)
    for name in ("familiar", "new"):
        a, b = getattr(found[0], name), getattr(found[1], name)
        assert a.items.tolist() == b.items.tolist() and np.array_equal(a.rank_scores, b.rank_scores)
    # and they are what the recommender serves
    served = demo.lists(history, Options(k=20))
    assert served.new.indices.tolist() == found[0].new.items.tolist()


def test_blend_order_spreads_new_slots_and_fills_from_the_other_list() -> None:
    def ranked(n: int) -> Ranked:
        return Ranked(np.arange(n), np.zeros(n), np.zeros(n))

    order = blend_order(ranked(10), ranked(10), k=10, discovery=0.4)
    assert [n for n, _ in order] == [FAMILIAR, NEW, FAMILIAR, NEW, FAMILIAR, FAMILIAR, NEW, FAMILIAR, NEW, FAMILIAR]
    short = blend_order(ranked(2), ranked(10), k=6, discovery=0.0)
    assert [n for n, _ in short] == [FAMILIAR, FAMILIAR, NEW, NEW, NEW, NEW] and short[2] == (NEW, 0)
    assert len(blend_order(ranked(1), ranked(1), k=5, discovery=0.5)) == 2


def test_track_history_keeps_the_model_and_the_request_filters(demo: Recommender) -> None:
    history = demo.bundle.tables["demo_history"].query("user_id == 'demo:0001'")
    listening = dict(zip(history["track_id"], history["weight"]))
    opts = Options(k=15, year_range=(1990, 2020), exclude_artists=[])
    lists = demo.lists(listening, opts)
    assert lists.blended.path == PATH_ALS
    years = demo.bundle.items.set_index("track_id")["year"]
    for part in (lists.familiar, lists.new, lists.blended):
        assert all(1990 <= years[t] <= 2020 for t in part.track_ids)
        assert not set(part.track_ids) & set(listening)  # known tracks left out
    blocked = next(iter(own_artist_sets(demo, lists.new.track_ids[:1])[0]))
    again = demo.lists(listening, Options(k=15, year_range=(1990, 2020), exclude_artists=[blocked]))
    assert all(blocked not in a for a in own_artist_sets(demo, again.blended.track_ids))
    with_model = [e for e in lists.blended.explanations if e.because]
    assert with_model  # tracks with factors keep their "because you played" contributions


def test_discovery_none_is_the_models_own_ranking(demo: Recommender) -> None:
    history = demo.bundle.tables["demo_history"].query("user_id == 'demo:0002'")
    listening = dict(zip(history["track_id"], history["weight"]))
    model = demo.recommend(listening, Options(k=10, discovery=None))
    assert model.path == PATH_ALS and all(demo.arrays.has_factors[model.indices])
    with pytest.raises(ValueError, match="discovery must be None or a number in"):
        Options(discovery=1.5)


def test_an_export_of_artist_only_matches_reaches_the_artists_not_three_tracks(demo: Recommender) -> None:
    index = CatalogIndex.from_items(demo.bundle.items)
    artist = artists_with_tracks(demo, 1, min_tracks=6)[0]
    name = demo.arrays.artist_names[list(demo.arrays.artist_ids).index(artist)]

    class Item:
        def __init__(self, title: str, weight: float) -> None:
            self.track_id, self.title, self.artist, self.weight = None, title, name, weight

    listening, match = listening_from_history([Item(f"unknown song {i}", 1.0) for i in range(5)], index)
    assert match.counts["artist"] == 5 and listening.tracks == {} and listening.artists == {artist: 5.0}
    familiar = demo.lists(listening, Options(k=10, max_per_artist=None)).familiar
    assert len(familiar) >= 6  # every track of the artist is open to it, none counts as heard


def artist_bundle(tmp_path: Path, **extra_overrides: np.ndarray) -> Recommender:
    parts = random_bundle_parts(n_items=120, rank=4, n_groups=3, seed=3)
    ids = sorted({a for row in parts["items"]["artist_ids"] for a in row})
    n = len(ids)
    # co-listening: every artist's one similar artist is the next id (a ring)
    indptr = np.arange(n + 1, dtype=np.int64)
    indices = (np.arange(n, dtype=np.int32) + 1) % n
    extra = {
        "artist_ids": np.asarray(ids), "artist_factors": np.random.default_rng(0).normal(size=(n, 4)).astype(np.float32),
        "artist_similar_indptr": indptr, "artist_similar_indices": indices,
        "artist_similar_scores": np.ones(n, dtype=np.float32),
    }
    extra.update(extra_overrides)
    write_bundle(tmp_path / "b", **{**parts, "extra": extra})
    return Recommender(load_bundle(tmp_path / "b"))


def test_the_bundles_artist_model_is_used_when_shipped(tmp_path: Path) -> None:
    rec = artist_bundle(tmp_path)
    ids = sorted(rec.bundle.extra["artist_ids"].tolist())
    assert rec.artists.has_factors.all()
    code = {a: c for c, a in enumerate(rec.arrays.artist_ids.tolist())}
    share = np.zeros(rec.artists.n_artists)
    share[code[ids[0]]] = 1.0
    spread = rec.artists.spread(share)
    assert int(np.argmax(spread)) == code[ids[1]]  # the co-listening neighbour of ids[0]
    assert rec.artists.fold_in(share) is not None  # the artist-level fold-in runs on the bundle's factors


def test_bad_artist_factors_are_refused_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match=r"extra/artist_factors\.npy has shape"):
        artist_bundle(tmp_path, artist_factors=np.zeros((3, 4), dtype=np.float32))


def test_fallback_similarity_from_genres_and_collaborations(tmp_path: Path) -> None:
    parts = random_bundle_parts(n_items=60, rank=4, n_groups=3, seed=1)
    items = parts["items"]
    # every artist has tracks in each of the 3 genres; two of them also share a rare one
    items.at[0, "genres"] = ["genre0", "rare scene"]
    items.at[3, "genres"] = ["genre0", "rare scene"]
    a0, a1 = items.loc[0, "artist_ids"][0], items.loc[3, "artist_ids"][0]
    assert a0 != a1
    items.at[6, "artists"] = [items.loc[6, "artists"][0], "Guest Star"]
    items.at[6, "artist_ids"] = [items.loc[6, "artist_ids"][0], "guest"]
    write_bundle(tmp_path / "b", **parts)
    rec = Recommender(load_bundle(tmp_path / "b"))
    assert not rec.artists.has_factors.any()  # no artist model shipped: no artist fold-in
    code = {a: c for c, a in enumerate(rec.arrays.artist_ids.tolist())}
    sims = rec.artists.similarity_matrix(np.array([code[a0]]), np.arange(rec.artists.n_artists))[0]
    assert sims[code[a1]] == sims.max() > 0 and sims[code[a0]] == 0  # the rare shared genre wins; not itself
    host = code[items.loc[6, "artist_ids"][0]]
    assert rec.artists.similarity_matrix(np.array([host]), np.array([code["guest"]]))[0, 0] > 0
    assert rec.artists.shared_genres(code[a0], code[a1])[0] == "rare scene"  # rarest first


def scipy_similarity(rec: Recommender, artists: np.ndarray, others: np.ndarray) -> np.ndarray:
    """The pairwise similarity terms written with scipy's own indexing and products."""
    s, w = rec.artists, rec.artists.weights
    out = w.genres * (s._genre[artists] @ s._genre[others].T).toarray()
    out += w.collaborations * s._collab[artists][:, others].toarray()
    out += w.colistening * s._colisten[others][:, artists].toarray().T
    out[artists[:, None] == others[None, :]] = 0.0
    return out


def test_similarity_blocks_are_scipys_products_and_sum_to_the_spread(demo: Recommender) -> None:
    s = demo.artists
    assert s._colisten is not None and s._collab.nnz and s._genre.nnz  # every term is exercised
    rng = np.random.default_rng(3)
    artists = np.sort(rng.choice(s.n_artists, 40, replace=False))
    others = np.sort(rng.choice(s.n_artists, 300, replace=False))
    got = s.similarity_matrix(artists, others)
    assert np.count_nonzero(got) > 0
    np.testing.assert_array_equal(got, scipy_similarity(demo, artists, others))  # bit for bit
    share = np.zeros(s.n_artists)
    share[others] = rng.random(len(others))
    share /= share.sum()
    every = np.arange(s.n_artists)
    np.testing.assert_allclose(s.similarity_matrix(every, others) @ share[others], s.spread(share), atol=1e-12)


def test_shared_genres_of_many_pairs_are_each_pairs_own(demo: Recommender) -> None:
    s = demo.artists
    g = s._genre
    rng = np.random.default_rng(4)
    with_genres = np.flatnonzero(np.diff(g.indptr) > 0)
    by_genre = g.T.tocsr()  # pairs drawn through a genre share it; random pairs mostly share none
    shared = rng.choice(np.flatnonzero(np.diff(by_genre.indptr) >= 2), 100)
    drawn = [rng.choice(by_genre.indices[by_genre.indptr[c]:by_genre.indptr[c + 1]], 2, replace=False) for c in shared]
    artists = np.concatenate([[a for a, _ in drawn], rng.choice(with_genres, 100)])
    others = np.concatenate([[b for _, b in drawn], rng.choice(with_genres, 100)])
    got = s.shared_genres_many(artists, others)
    assert g.has_canonical_format  # the selection reads each row's genres in ascending order
    found = tied = 0
    for a, b, names in zip(artists.tolist(), others.tolist(), got):
        weight = dict(zip(g.indices[g.indptr[a]:g.indptr[a + 1]].tolist(), g.data[g.indptr[a]:g.indptr[a + 1]].tolist()))
        common = set(weight) & set(g.indices[g.indptr[b]:g.indptr[b + 1]].tolist())
        want = sorted(common, key=lambda c: (-weight[c], c))[:2]  # rarest first, ties by code
        assert names == [str(s._genre_names[c]) for c in want]
        assert s.shared_genres(a, b) == names
        found += bool(names)
        tied += len({weight[c] for c in common}) < len(common)
    assert found >= 100  # the pairs drawn through a genre share one
    assert tied  # equal weights occur, so the tie order is checked
    assert s.shared_genres_many(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)) == []


def test_track_weights_are_scipys_product_bit_for_bit(demo: Recommender) -> None:
    """Each track's weight to every artist it credits, in history order (not sorted), as
    ``item_artist[items].T @ weights`` sums it; tracks with several artists included."""
    s = demo.artists
    rng = np.random.default_rng(6)
    several = np.flatnonzero(np.diff(s.item_artist.indptr) > 1)
    assert len(several)
    items = np.concatenate([rng.choice(several, 20, replace=False), rng.choice(len(s.primary), 200, replace=False)])
    rng.shuffle(items)
    weights = rng.gamma(1.0, 5.0, len(items))
    got = s.track_weights(items, weights)
    assert got.dtype == np.float64 and np.array_equal(got, s.item_artist[items].T @ weights)
    none = s.track_weights(items[:0], weights[:0])
    assert none.dtype == np.float64 and np.array_equal(none, np.zeros(s.n_artists))


def test_artist_shares_are_the_dense_formula_bit_for_bit() -> None:
    """log1p(max(w, 0)) / its sum, worked only where a weight is held: the same bits, negative
    weights count as none, and all-zero (or all-negative) weights give zeros."""
    rng = np.random.default_rng(5)
    weights = np.zeros(5_000)
    weights[rng.choice(5_000, 60, replace=False)] = rng.gamma(1.0, 5.0, 60)
    weights[rng.choice(5_000, 5, replace=False)] = -2.0
    for w in (weights, weights.astype(np.float32), np.zeros(10), -np.ones(10)):
        dense = np.log1p(np.maximum(w, 0.0))
        want = dense / dense.sum() if dense.sum() > 0 else dense
        got = lists_module.artist_shares(w)
        assert got.dtype == want.dtype and np.array_equal(got, want)
    assert np.isclose(lists_module.artist_shares(weights).sum(), 1.0)


def test_lists_reasons_on_cards_name_the_artists() -> None:
    row = {"because": [], "reasons": [Reason("your_artist", "Robyn"), Reason("similar_artist", "Lykke Li")]}
    assert reason_lines(row, verb="played", sound=None) == [
        "More from Robyn, whom you played", "New to you: like Lykke Li, whom you played"]


def test_item_weights_feed_artist_weights(demo: Recommender) -> None:
    items = demo.bundle.items
    first = items.iloc[np.flatnonzero(items["artist_ids"].map(len) == 2)[0]]
    hist = demo._parse({first["track_id"]: 3.0})
    weights = demo._artist_weights(hist)
    codes = [list(demo.arrays.artist_ids).index(a) for a in first["artist_ids"]]
    assert weights[codes].tolist() == [3.0, 3.0] and weights.sum() == 6.0  # every credited artist


def test_artist_only_weights_by_id_or_name_split_over_the_artists_a_name_names(tmp_path: Path) -> None:
    parts = random_bundle_parts(n_items=60, rank=4, seed=5)
    items = parts["items"]
    for row, (artist_id, name) in enumerate([("twinA", "The Twins"), ("twinB", "The Twins"), ("solo", "Solo Act")]):
        items.at[row, "artist_ids"], items.at[row, "artists"] = [artist_id], [name]
    write_bundle(tmp_path / "b", **parts)
    rec = Recommender(load_bundle(tmp_path / "b"))
    code = {a: c for c, a in enumerate(rec.arrays.artist_ids.tolist())}
    other = next(a for a in code if a not in ("twinA", "twinB", "solo"))
    listening = Listening(artists={"  the TWINS ": 6.0, "solo": 2.0, other: 1.5, "nobody at all": 9.0})
    weights = rec.artist_weights(listening)
    assert weights[code["twinA"]] == weights[code["twinB"]] == 3.0  # one name, two artists: split
    assert weights[code["solo"]] == 2.0 and weights[code[other]] == 1.5
    assert weights.sum() == 9.5  # the unknown name adds nothing
    codes, unknown = rec.content.artist_codes(["The Twins", "solo", "nobody at all"])
    assert codes.tolist() == sorted([code["twinA"], code["twinB"], code["solo"]]) and unknown == ["nobody at all"]


def test_own_tracks_split_every_artists_tracks_into_single_and_shared_credits(demo: Recommender) -> None:
    """The familiar list's per-bundle tables: an artist's single-artist tracks (grouped by
    artist, in the order asked) and its co-credited ones are together exactly its tracks."""
    tables, signals = demo._list_tables, demo.artists
    credits = np.diff(demo.arrays.artist_ptr)
    codes = np.flatnonzero(signals.n_tracks >= 2)[::7][:40][::-1]  # not sorted: the order is kept
    singles, counts, multis, multi_counts = tables.own_tracks(codes)
    assert counts.sum() == len(singles) and len(codes) == len(counts) == len(multi_counts)
    assert multi_counts.sum() == len(multis)
    at = m_at = 0
    for code, count, m_count in zip(codes.tolist(), counts.tolist(), multi_counts.tolist()):
        mine = set(signals.artist_items[code].indices.tolist())
        group = singles[at : at + count].tolist()
        at += count
        shared = multis[m_at : m_at + m_count].tolist()
        m_at += m_count
        assert set(group) == {i for i in mine if credits[i] == 1}
        assert set(shared) == {i for i in mine if credits[i] > 1} and len(shared) == len(set(shared))
    assert (credits[multis] > 1).all() and (credits[singles] == 1).all()
    assert set(np.concatenate([singles, multis]).tolist()) == set(signals.artist_items[codes].indices.tolist())
    assert len(multis) and len(singles)  # the demo has both kinds among these artists


@pytest.mark.parametrize("start", [1, 64, 100_000])
def test_the_familiar_list_does_not_depend_on_its_first_candidate_count(
    demo: Recommender, monkeypatch: pytest.MonkeyPatch, start: int
) -> None:
    """The candidates grow until nothing outside can beat the k-th pick, so a start of one
    track (every growth path: the cap leaving too few, then the bound) and one past the whole
    catalogue give the served start's list."""
    rng = np.random.default_rng(11)
    ids = demo.track_ids
    history = dict(zip(ids[rng.choice(len(ids), 60, replace=False)].tolist(), rng.integers(1, 30, 60).astype(float)))
    opts = Options(k=30)
    served = demo.lists(history, opts).familiar
    monkeypatch.setattr(lists_module, "FAMILIAR_START", start)
    monkeypatch.setattr(lists_module, "FAMILIAR_PER_PICK", 0)
    again = demo.lists(history, opts).familiar
    assert len(served.track_ids) == 30
    assert again.track_ids == served.track_ids
    assert np.array_equal(again.rank_scores, served.rank_scores)


def test_a_history_without_bundle_artists_gets_the_recommend_list_as_its_blend(tmp_path: Path) -> None:
    """Tracks the model knows but that credit no artist of the bundle: ``lists().blended`` is
    what ``recommend()`` serves (the model's ranking), not the cold start; the lists are empty."""
    parts = random_bundle_parts(n_items=120, rank=8)
    items = parts["items"]
    nameless = items.index[:12]
    items["artists"] = [[] if i in nameless else a for i, a in zip(items.index, items["artists"])]
    items["artist_ids"] = [[] if i in nameless else a for i, a in zip(items.index, items["artist_ids"])]
    write_bundle(tmp_path / "b", **parts)
    rec = Recommender(load_bundle(tmp_path / "b"))
    history = {str(t): 2.0 for t in items.loc[nameless, "track_id"]}
    assert not rec.artist_weights(history).any()
    want = rec.recommend(history, Options(k=10))
    got = rec.lists(history, Options(k=10))
    assert want.path == got.blended.path == PATH_ALS
    assert list(got.blended.indices) == list(want.indices) and not len(got.familiar.indices) and not len(got.new.indices)
    assert rec.lists({}, Options(k=10)).blended.path == rec.recommend({}, Options(k=10)).path  # no history: cold start


@pytest.mark.parametrize("value", [0.1, -0.1, 1e-30, 3.0, -7.25, 16777217.0, 0.0])
def test_float32_at_most_is_the_largest_float32_not_above(value: float) -> None:
    from engine.serving.lists import _float32_at_most

    got = _float32_at_most(value)
    assert isinstance(got, np.float32) and float(got) <= value
    assert float(np.nextafter(got, np.float32(np.inf))) > value


def test_float32_at_most_outside_float32s_range_stays_finite() -> None:
    from engine.serving.lists import _float32_at_most

    low, high = np.finfo(np.float32).min, np.finfo(np.float32).max
    assert _float32_at_most(-1e300) == low and np.isfinite(_float32_at_most(-1e300))
    assert not (np.float32(-np.inf) >= _float32_at_most(-1e300))  # a blocked track stays out
    assert _float32_at_most(1e300) == high


def test_largest_magnitude_is_max_abs_and_the_popularity_one_is_kept(demo: Recommender) -> None:
    from engine.serving.rerank import largest_magnitude

    assert largest_magnitude(np.array([0.5, -3.0, 2.0], dtype=np.float32)) == 3.0
    assert largest_magnitude(np.array([-0.25, -0.5])) == 0.5
    assert largest_magnitude(np.zeros(0)) == 0.0
    arrays = demo.arrays
    assert arrays.popularity_magnitude == float(np.abs(arrays.popularity).max()) > 0
    assert "popularity_magnitude" in vars(arrays)  # computed once, then read


def test_recommend_serves_the_blend_of_the_full_lists_at_every_dial(demo: Recommender) -> None:
    """``recommend`` is exactly ``lists().blended``, at every dial, for listeners whose familiar
    list runs short (few artists) or whose new list does (almost every artist in the history),
    and with filters, a cap of one and re-ranking terms."""
    few = Listening(artists={a: 5.0 for a in artists_with_tracks(demo, 6)})  # 6 artists x 2 < most shares
    many = {str(t): 1.0 + (i % 7) for i, t in enumerate(demo.track_ids[::97][:60])}
    # every artist but a dozen: a new list of ~9 artists, short of most shares of the slots
    most = Listening(artists={str(a): 1.0 + i % 5 for i, a in enumerate(demo.arrays.artist_ids[:-12])})
    short = {"familiar": 0, "new": 0}
    for history in (few, many, most):
        for opts in (Options(k=20), Options(k=30, max_per_artist=1), Options(k=25, year_range=(1971, 1972)),
                     Options(k=12, exclude_known=False, novelty=0.3)):
            for d in (0.0, 0.1, 0.4, 0.75, 1.0):
                o = dataclasses.replace(opts, discovery=d)
                lists = demo.lists(history, o)
                want, got = lists.blended, demo.recommend(history, o)
                assert got.track_ids == want.track_ids, (opts, d)
                assert np.array_equal(got.scores, want.scores, equal_nan=True)
                assert [e.reasons for e in got.explanations] == [e.reasons for e in want.explanations]
                short["familiar"] += len(lists.familiar.indices) < o.k
                short["new"] += len(lists.new.indices) < o.k
    assert short["familiar"] and short["new"]  # both kinds of short list were blended
