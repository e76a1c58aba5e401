"""Playlist continuation (engine.serving.continuation): the served ranking re-ranked toward the
playlist's artists, sound and era, on a small bundle with planted groups (no Spark)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.bundle.load import load_bundle
from engine.bundle.publish import write_bundle
from engine.serving.continuation import (
    DEFAULT_WEIGHTS,
    FIT_ARTIST,
    FIT_ERA,
    FIT_SOUND,
    MODEL_ONLY,
    PATH_CONTENT,
    FitWeights,
    Playlist,
    continuation_scores,
    continue_playlist,
    era_fit,
    era_of,
    playlist_history,
    position_weights,
)
from engine.serving.recommender import Recommender
from engine.serving.results import PATH_ALS
from tests.factories import random_bundle_parts


@pytest.fixture(scope="module")
def rec(tmp_path_factory: pytest.TempPathFactory) -> Recommender:
    # 300 items in 3 planted groups (cluster = group = i % 3), artist a<j> = items 3j..3j+2 mod 30
    # artists (one per group each), years 1960 + i % 60; the last 10 items have no factors.
    path = Path(tmp_path_factory.mktemp("continuation")) / "bundle"
    write_bundle(path, **random_bundle_parts(n_items=300, rank=8, n_groups=3, seed=3))
    return Recommender(load_bundle(path))


def ids(rec: Recommender, rows) -> tuple[str, ...]:
    return tuple(rec.bundle.items["track_id"].iloc[list(rows)])


def group_playlist(rec: Recommender, group: int, n: int = 12) -> Playlist:
    return Playlist(ids(rec, range(group, 3 * n, 3)))


def test_era_is_the_10th_to_90th_percentile_widened_and_fades_outside() -> None:
    assert era_of(list(range(1990, 2011, 2))) == (1990, 2010)  # percentiles 1992 and 2008, ±2 years
    assert era_of([0, 0]) is None
    fit = era_fit(np.array([1985, 1990, 2000, 2010, 2015, 2025, 0]), (1990, 2010))
    assert fit.tolist() == [0.5, 1.0, 1.0, 1.0, 0.5, 0.0, 0.0]
    assert era_fit(np.array([2000]), None).tolist() == [0.0]


def test_position_weights_give_the_last_tracks_more_when_asked() -> None:
    assert position_weights(8).tolist() == [1.0] * 8
    assert position_weights(8, FitWeights(recent=2.0, recent_n=3)).tolist() == [1, 1, 1, 1, 1, 2, 2, 2]
    history = playlist_history(Playlist(("a", "b", "a", "c")), FitWeights(recent=3.0, recent_n=1))
    assert dict(history) == {"a": 1.0, "b": 1.0, "c": 3.0}  # a repeat counts once, at its first place
    with pytest.raises(ValueError, match="FitWeights.artist"):
        FitWeights(artist=-1.0)


def test_without_fit_terms_the_picks_are_the_served_models_ranking(rec: Recommender) -> None:
    playlist = group_playlist(rec, 0)
    picks = continue_playlist(rec, playlist, k=15, weights=MODEL_ONLY, max_per_artist=None, explain=False)
    scored = np.flatnonzero(rec.arrays.has_factors)
    served = rec.score_items([dict.fromkeys(playlist.tracks, 1.0)], scored)[0]
    order = [int(scored[i]) for i in np.argsort(-served, kind="stable") if scored[i] not in set(rec.index_of(playlist.tracks))]
    assert picks.path == PATH_ALS and [p.row for p in picks.picks] == order[:15]
    assert set(picks.track_ids).isdisjoint(playlist.tracks)


def test_picks_say_what_of_the_playlist_they_fit(rec: Recommender) -> None:
    playlist = group_playlist(rec, 1)  # cluster 1 only; artists a0, a1, ... one track each; years 1961..1994
    result = continue_playlist(rec, playlist, k=20, max_per_artist=None)
    profile = result.profile
    assert profile.sounds == ((1, 1.0),) and profile.n_tracks == 12 == profile.n_in_model
    assert profile.era == era_of(list(range(1961, 1961 + 36, 3)))
    assert len(profile.artists) == 3 and all(abs(share - 1 / 12) < 1e-12 for _, _, share in profile.artists)
    items = rec.bundle.items
    playlist_artists = {a for t in playlist.tracks for a in items.set_index("track_id").at[t, "artist_ids"]}
    for pick in result.picks:
        row = items.iloc[pick.row]
        assert (FIT_SOUND in pick.fits) == (row["cluster"] == 1)
        assert (FIT_ARTIST in pick.fits) == bool(set(row["artist_ids"]) & playlist_artists)
        assert (FIT_ERA in pick.fits) == (profile.era[0] <= row["year"] <= profile.era[1])
        if FIT_ARTIST in pick.fits:
            assert pick.artist == row["artists"][0]
    frame = rec.frame(result.recommendations())
    kinds = [[r.kind for r in reasons] for reasons in frame["reasons"]]
    assert kinds == [list(p.fits) for p in result.picks]
    assert any(frame["because"])  # the model's reasons: the playlist tracks behind each pick


def test_a_heavy_artist_weight_brings_the_playlists_artists_first(rec: Recommender) -> None:
    playlist = group_playlist(rec, 2, n=6)
    plain = continue_playlist(rec, playlist, k=10, weights=MODEL_ONLY, max_per_artist=None, explain=False)
    heavy = continue_playlist(rec, playlist, k=10, weights=FitWeights(artist=100.0, sound=0.0, era=0.0),
                              max_per_artist=None, explain=False)
    by_artist = [FIT_ARTIST in p.fits for p in heavy.picks]
    n_available = int(np.count_nonzero(continuation_scores(rec, [playlist], FitWeights(artist=1e6, sound=0, era=0))[0] > 1e5))
    assert by_artist == [True] * min(10, n_available) + [False] * (10 - min(10, n_available))
    assert sum(FIT_ARTIST in p.fits for p in plain.picks) < sum(by_artist)


def test_artist_only_matches_count_for_their_artist(rec: Recommender) -> None:
    tracks = ids(rec, [0, 3])  # artists a0 and a1
    result = continue_playlist(rec, Playlist(tracks, artists={"a7": 2.0}), k=5, explain=False)
    shares = {key: share for key, _, share in result.profile.artists}
    assert shares == pytest.approx({"a7": 0.5, "a0": 0.25, "a1": 0.25})
    assert list(shares)[0] == "a7"  # the largest share first


def test_exclusions_and_the_artist_cap_hold(rec: Recommender) -> None:
    playlist = group_playlist(rec, 0)
    first = continue_playlist(rec, playlist, k=10, explain=False)
    again = continue_playlist(rec, playlist, k=10, explain=False)
    assert first == again  # deterministic
    banned_track, banned_artist = first.picks[0].track_id, rec.bundle.items.iloc[first.picks[1].row]["artist_ids"][0]
    other = continue_playlist(rec, playlist, k=10, exclude_ids=[banned_track], exclude_artists=[banned_artist],
                              explain=False)
    artists = [rec.bundle.items.iloc[p.row]["artist_ids"][0] for p in other.picks]
    assert banned_track not in other.track_ids and banned_artist not in artists
    assert max(artists.count(a) for a in artists) <= 2  # the default cap


def test_a_playlist_outside_the_model_gets_the_content_paths_candidates(rec: Recommender) -> None:
    cold = Playlist(ids(rec, range(290, 300)))  # the items without factors
    result = continue_playlist(rec, cold, k=10)
    assert result.path == PATH_CONTENT and len(result.picks) == 10
    assert set(result.track_ids).isdisjoint(cold.tracks) and result.profile.n_in_model == 0
    unknown = continue_playlist(rec, Playlist(("not-a-track",) + cold.tracks[:2]), k=3)
    assert unknown.unknown == ("not-a-track",)


def test_the_evaluations_scores_rank_as_the_served_picks(rec: Recommender) -> None:
    playlists = [group_playlist(rec, g) for g in range(3)]
    scores = continuation_scores(rec, playlists, DEFAULT_WEIGHTS)
    for playlist, row in zip(playlists, scores):
        served = continue_playlist(rec, playlist, k=20, max_per_artist=None, explain=False)
        assert [p.row for p in served.picks] == np.argsort(-row, kind="stable")[:20].tolist()
        assert np.isneginf(row[rec.index_of(playlist.tracks)]).all()
