"""Mixes by taste (engine.serving.mixes): which clusters get a mix, their names, their tracks.

A synthetic bundle from tests.factories (item i is in audio cluster i % 4, and its factors point
the cluster's way) whose artists are re-drawn so each has 5 tracks in every cluster: artist
(i // 4) % 60. Genres: the cluster's own (``genre<c>``) and a style that varies by track.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.bundle.load import load_bundle
from engine.bundle.publish import publish_bundle
from engine.serving.listening import Listening
from engine.serving.lists import FAMILIAR, NEW
from engine.serving.mixes import (
    MAX_MIXES,
    ClusterShares,
    build_mix,
    build_mixes,
    cluster_shares,
    mix_clusters,
    mix_name,
    mix_order,
    plan_mixes,
)
from engine.serving.options import Options
from engine.serving.recommender import Recommender
from engine.serving.taste import describe_clusters
from tests.factories import random_bundle_parts

N_ITEMS, N_CLUSTERS, N_ARTISTS = 1200, 4, 60


def tid(i: int) -> str:
    return f"{i:022d}"


def item(cluster: int, artist: int, nth: int = 0) -> int:
    """The ``nth`` track of ``artist`` in ``cluster``."""
    return 4 * artist + cluster + 4 * N_ARTISTS * nth


def publish(tmp: Path) -> Path:
    parts = random_bundle_parts(n_items=N_ITEMS, rank=8, n_groups=N_CLUSTERS, n_without_factors=0, seed=3)
    items = parts["items"]
    artist = (np.arange(N_ITEMS) // N_CLUSTERS) % N_ARTISTS
    items["artists"] = [[f"Artist {a}"] for a in artist]
    items["artist_ids"] = [[f"a{a}"] for a in artist]
    items["genres"] = [[f"genre{i % N_CLUSTERS}", f"style{(i // 8) % 3}"] for i in range(N_ITEMS)]
    return tmp / publish_bundle(tmp, **parts)


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return publish(tmp_path_factory.mktemp("mix-models"))


@pytest.fixture(scope="module")
def rec(bundle_dir: Path) -> Recommender:
    return Recommender(load_bundle(bundle_dir))


def listener() -> dict[str, float]:
    """Cluster 0: 12 artists, one track each (weight 5): 60 of 83.5 = 72%.
    Cluster 1: 4 tracks (weight 3): 12 = 14%. Cluster 2: 2 heavy tracks (weight 4): 8 = 9.6%,
    but only two songs. Cluster 3: 3 tracks (weight 1.17): 3.5 = 4.2%."""
    history = {tid(item(0, a)): 5.0 for a in range(12)}
    history.update({tid(item(1, a)): 3.0 for a in range(20, 24)})
    history.update({tid(item(2, a)): 4.0 for a in (30, 31)})
    history.update({tid(item(3, a)): 3.5 / 3 for a in (40, 41, 42)})
    return history


def test_a_mix_needs_a_real_share_and_three_songs(rec: Recommender) -> None:
    shares = cluster_shares(rec, listener())
    assert shares.share.sum() == pytest.approx(1.0)
    assert shares.share == pytest.approx(np.array([60, 12, 8, 3.5]) / 83.5)
    assert shares.entries.tolist() == [12, 4, 2, 3]
    # cluster 2 holds 9.6% with two songs, cluster 3 three songs with 4.2%: neither gets a mix
    assert mix_clusters(shares) == [0, 1]
    assert mix_clusters(shares, min_entries=2) == [0, 1, 2]
    assert mix_clusters(shares, min_share=0.04) == [0, 1, 3]
    # exactly at the threshold counts
    assert mix_clusters(shares, min_share=float(shares.share[1])) == [0, 1]


def test_at_most_six_mixes_largest_share_first() -> None:
    weight = np.array([1, 3, 2, 2, 5, 1, 4, 2, 1, 3], dtype=float)
    shares = ClusterShares(weight=weight, entries=np.full(10, 5), genres=tuple({} for _ in range(10)))
    picked = mix_clusters(shares, min_share=0.0)
    assert len(picked) == MAX_MIXES
    assert picked == [4, 6, 1, 9, 2, 3]  # by share, ties by cluster id


def test_an_artist_only_match_spreads_over_the_artists_clusters(rec: Recommender) -> None:
    shares = cluster_shares(rec, Listening(tracks={tid(item(0, 1)): 2.0}, artists={"a7": 8.0}))
    # artist a7 has 5 tracks in every cluster: 2 per cluster, and one entry in each
    assert shares.weight == pytest.approx([4.0, 2.0, 2.0, 2.0])
    assert shares.entries.tolist() == [2, 1, 1, 1]


def test_mixes_are_named_from_the_cluster_and_its_top_genres(rec: Recommender) -> None:
    history = listener()
    mixes = build_mixes(rec, history)
    labels = describe_clusters(rec.bundle.kmeans)
    assert [m.cluster for m in mixes] == [0, 1]
    first = mixes[0]
    # cluster 0's history: genre0 on every track (60), style0/1/2 by track: item(0, a) = 4a has
    # style (a // 2) % 3, so artists 0, 1, 6, 7 -> style0 (20), 2, 3, 8, 9 -> style1 (20), ...
    shares = cluster_shares(rec, history)
    assert shares.genres[0] == pytest.approx({"genre0": 60.0, "style0": 20.0, "style1": 20.0, "style2": 20.0})
    assert first.genres == ("genre0", "style0")  # ties broken by name
    assert first.sound == labels[0]
    assert first.name == f"{labels[0][0].upper()}{labels[0][1:]} · genre0, style0"
    assert mix_name("low energy, quiet", ()) == "Low energy, quiet"
    named = build_mixes(rec, history, labels={0: "mellow acoustic", 1: "loud"})
    assert named[0].name == "Mellow acoustic · genre0, style0" and named[1].name.startswith("Loud · genre1")


def test_mostly_familiar_artists_with_a_stated_share_of_new_ones(rec: Recommender) -> None:
    history = listener()
    own = {f"a{a}" for a in [*range(12), *range(20, 24), 30, 31, 40, 41, 42]}
    artist_of = dict(zip(rec.bundle.items["track_id"], rec.bundle.items["artist_ids"]))
    big, small = build_mixes(rec, history)
    # cluster 0: 12 artists with 4 unheard tracks each there, 2 per artist -> 15 familiar + 5 new
    assert len(big) == 20 and sum(big.new) == 5
    assert [j for j, new in enumerate(big.new) if new] == [1, 5, 9, 13, 17]  # spread along the mix
    for track, new in zip(big.tracks.track_ids, big.new):
        assert (set(artist_of[track]) <= own) != new
    assert big.stats.share_new == pytest.approx(0.25)
    # cluster 0's familiar tracks are all by its own 12 artists
    assert {a for t, new in zip(big.tracks.track_ids, big.new) if not new for a in artist_of[t]} <= {
        f"a{a}" for a in range(12)}
    # cluster 1: its 4 artists give 8 familiar tracks (2 each); the listener's other artists' songs
    # in that sound follow them, up to 15; then 5 new
    assert len(small) == 20 and sum(small.new) == 5 and small.stats.share_new == pytest.approx(0.25)
    familiar = [artist_of[t][0] for t, new in zip(small.tracks.track_ids, small.new) if not new]
    assert set(familiar[:8]) == {"a20", "a21", "a22", "a23"} and not set(familiar[8:]) & set(familiar[:8])
    assert set(familiar[8:]) <= own
    for mix in (big, small):
        clusters = rec.bundle.items.set_index("track_id").loc[list(mix.tracks.track_ids), "cluster"]
        assert set(clusters) == {mix.cluster}
        counts: dict[str, int] = {}
        for track in mix.tracks.track_ids:
            for a in artist_of[track]:
                counts[a] = counts.get(a, 0) + 1
        assert max(counts.values()) <= 2
        assert all(e.reasons for e in mix.tracks.explanations)  # the lists' reasons come along


def test_mix_order_keeps_the_share_and_fills_short_mixes() -> None:
    def count(order: list[tuple[str, int]]) -> tuple[int, int]:
        return sum(n == FAMILIAR for n, _ in order), sum(n == NEW for n, _ in order)

    assert count(mix_order(40, 40)) == (15, 5)
    assert count(mix_order(6, 40)) == (6, 4)  # filled up to 10 with new artists
    assert count(mix_order(0, 40)) == (0, 10)
    assert count(mix_order(3, 1)) == (3, 1)  # never more than there are
    assert count(mix_order(12, 0)) == (12, 0)
    assert mix_order(0, 0) == []
    assert count(mix_order(40, 40, size=30, new_share=0.2, min_size=10)) == (24, 6)
    order = mix_order(15, 5)
    for name in (FAMILIAR, NEW):  # each list is read in its own order, once
        assert [j for n, j in order if n == name] == list(range(sum(n == name for n, _ in order)))


def test_known_and_excluded_tracks_never_appear(rec: Recommender) -> None:
    history = listener()
    first = build_mixes(rec, history)
    banned = first[0].tracks.track_ids[:3]
    again = build_mixes(rec, history, Options(exclude_ids=banned, exclude_artists=["a3"]))
    for mix in (*first, *again):
        assert not set(mix.tracks.track_ids) & set(history)
    shown = {t for m in again for t in m.tracks.track_ids}
    assert not shown & set(banned)
    artist_of = dict(zip(rec.bundle.items["track_id"], rec.bundle.items["artist_ids"]))
    assert all("a3" not in artist_of[t] for t in shown)


def test_mixes_are_deterministic(rec: Recommender, bundle_dir: Path) -> None:
    history = listener()
    first = build_mixes(rec, history)
    again = build_mixes(Recommender(load_bundle(bundle_dir)), dict(reversed(list(history.items()))))
    assert [(m.name, m.tracks.track_ids, m.new) for m in first] == [(m.name, m.tracks.track_ids, m.new) for m in again]


def test_a_history_the_bundle_does_not_know_gets_no_mixes(rec: Recommender) -> None:
    assert build_mixes(rec, {}) == ()
    assert build_mixes(rec, {"0" * 21 + "x": 3.0}) == ()
    assert cluster_shares(rec, {}).share.tolist() == [0.0] * N_CLUSTERS


def test_a_sound_whose_artists_run_short_is_filled_with_new_ones_and_says_so(rec: Recommender) -> None:
    # two artists, three of their five cluster-2 tracks each: 2 + 2 unheard, no other artists
    history = {tid(item(2, a, nth)): 2.0 for a in (50, 51) for nth in range(3)}
    (mix,) = build_mixes(rec, history)
    assert mix.cluster == 2 and mix.entries == 6 and mix.share == pytest.approx(1.0)
    assert len(mix) == 10 and sum(mix.new) == 6 and mix.stats.share_new == pytest.approx(0.6)


def test_a_plan_is_built_alone_and_an_emptied_sound_gets_no_mix(rec: Recommender) -> None:
    history = listener()
    plans = plan_mixes(rec, history)
    assert [p.cluster for p in plans] == [0, 1] and plans[0].history == Listening(
        tracks={t: w for t, w in history.items() if int(t) % 4 == 0})
    mixes = build_mixes(rec, history)
    assert [m.plan for m in mixes] == list(plans)
    assert build_mix(rec, history, plans[1]).tracks.track_ids == mixes[1].tracks.track_ids
    everything = Options(exclude_ids=rec.bundle.items.loc[rec.bundle.items["cluster"] == 1, "track_id"].tolist())
    assert len(build_mix(rec, history, plans[1], everything)) == 0
    assert [m.cluster for m in build_mixes(rec, history, everything)] == [0]
