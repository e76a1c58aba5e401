"""The exclusion model (engine.serving.exclusions): untick tracks, artists and time ranges.

A real bundle (tests.factories: item i by artist (i // 3) % 30, in group i % 3), a real
CatalogIndex and spotify.history items; every expected weight is worked out by hand here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.core.matching import CatalogIndex
from engine.serving.exclusions import Exclusions, TasteEdit, Timeline, apply_exclusions, history_artists
from engine.serving.options import Options
from engine.serving.recommender import Recommender
from spotify.history import HistoryItem
from tests.factories import published_recommender, random_bundle_parts

DAY = 86_400
T0 = 1_700_000_000  # 2023-11-14


def tid(i: int) -> str:
    return f"{i:022d}"


@pytest.fixture(scope="module")
def rec(tmp_path_factory: pytest.TempPathFactory) -> Recommender:
    parts = random_bundle_parts(n_items=300, rank=8, seed=0)
    items = parts["items"]
    # Track 9 is "Artist 3 feat. Artist 7": unticking either artist takes it.
    items.at[9, "artists"] = ["Artist 3", "Artist 7"]
    items.at[9, "artist_ids"] = ["a3", "a7"]
    tmp: Path = tmp_path_factory.mktemp("excl")
    return published_recommender(tmp, parts)


@pytest.fixture(scope="module")
def index(rec: Recommender) -> CatalogIndex:
    return CatalogIndex.from_items(rec.bundle.items)


def item(i: int | None, *, weight: float, times: tuple[int, ...] = (), timed: tuple[float, ...] = (),
         artist: str | None = None, title: str | None = None) -> HistoryItem:
    return HistoryItem(track_id=None if i is None else tid(i), title=title or f"Song {i}",
                       artist=artist or f"Artist {(i or 0) // 3}", weight=weight,
                       play_times=tuple(float(t) for t in times), play_weights=timed)


def test_timeline_keeps_each_timed_part_through_matching(rec: Recommender, index: CatalogIndex) -> None:
    items = [
        item(0, weight=3.0, times=(T0, T0 + DAY), timed=(1.0, 0.5)),  # 1.5 untimed (a top list)
        item(None, weight=2.0, title="Song 4", artist="Artist 1", times=(T0 + 2 * DAY,), timed=(2.0,)),  # by name
        item(None, weight=4.0, title="A Song Not There", artist="Artist 20", times=(T0, T0 + 5 * DAY),
             timed=(3.0, 1.0)),  # by artist alone: its weight goes to the artist, no track's timeline
        item(12, weight=1.0),  # untimed only
        item(15, weight=-1.0, times=(T0,), timed=(-1.0,)),  # skipped more than played: not in the history
    ]
    timeline = Timeline.from_items(items, index)
    per_track = {t: 0.0 for t in timeline.track_ids}
    for code, w in zip(timeline.codes.tolist(), timeline.weights.tolist()):
        per_track[timeline.track_ids[code]] += w
    assert per_track[tid(0)] == pytest.approx(1.5) and per_track[tid(4)] == pytest.approx(2.0)
    catalogue = rec.bundle.items
    artist_20 = catalogue.loc[catalogue["artists"].map(lambda names: "Artist 20" in names), "track_id"].tolist()
    assert artist_20 and not any(t in per_track for t in artist_20)
    assert tid(12) not in per_track and tid(15) not in per_track
    assert timeline.span() == (T0, T0 + 2 * DAY)  # the artist-only plays are not on it
    assert timeline.plays()[tid(0)] == 2
    assert timeline.codes.dtype == np.int32 and timeline.epochs.dtype == np.int64


def test_untick_a_track_and_an_artist_then_tick_them_again(rec: Recommender) -> None:
    history = {tid(i): float(i + 1) for i in (0, 1, 2, 9, 10, 11, 21, 22)}  # 9-11 by Artist 3; 9 also by 7
    none = apply_exclusions(rec, history, Exclusions())
    assert none.history == history and none.removed == ()

    by_artist = apply_exclusions(rec, history, Exclusions(artists={"a7"}))
    assert by_artist.removed == (tid(9), tid(21), tid(22))  # Artist 7's own tracks and the feature
    edit = apply_exclusions(rec, history, Exclusions(artists={"a3"}, tracks={tid(0)}))
    assert set(edit.removed) == {tid(0), tid(9), tid(10), tid(11)}
    assert edit.history == {t: w for t, w in history.items() if t not in edit.removed}  # others untouched

    excl = Exclusions().with_artist("a3", keep=False).with_track(tid(0), keep=False)
    assert excl == Exclusions(artists={"a3"}, tracks={tid(0)})
    back = excl.with_artist("a3", keep=True).with_track(tid(0), keep=True)
    assert not back and apply_exclusions(rec, history, back).history == history


def test_artist_ids_never_match_an_artist_name(rec: Recommender) -> None:
    history = {tid(0): 1.0, tid(3): 1.0}
    assert apply_exclusions(rec, history, Exclusions(artists={"Artist 0"})).removed == ()
    assert apply_exclusions(rec, history, Exclusions(artists={"a0"})).removed == (tid(0),)


def test_a_time_range_takes_out_exactly_the_plays_inside_it(rec: Recommender, index: CatalogIndex) -> None:
    items = [
        item(0, weight=3.0, times=(T0, T0 + 10 * DAY), timed=(1.0, 0.5)),  # 1.5 untimed
        item(1, weight=2.0, times=(T0 + DAY, T0 + 2 * DAY), timed=(1.25, 0.75)),  # all timed, all inside
        item(2, weight=1.0, times=(T0 + 3 * DAY,), timed=(1.5,)),  # a skip elsewhere made it 1.0
        item(5, weight=4.0),  # untimed
        item(6, weight=0.123457, times=(T0 + DAY,), timed=(0.1234567,)),  # the weight rounded to 6 decimals
    ]
    history = {tid(i): it.weight for i, it in zip((0, 1, 2, 5, 6), items)}
    timeline = Timeline.from_items(items, index)
    august = Exclusions(periods=[(T0, T0 + 5 * DAY)])
    edit = apply_exclusions(rec, history, august, timeline=timeline)
    assert edit.removed == (tid(1), tid(2), tid(6))  # 2.0 - 2.0 = 0, 1.0 - 1.5 < 0, rounding left
    assert edit.history == pytest.approx({tid(0): 2.0, tid(5): 4.0})
    assert edit.lowered == (tid(0),)
    # Without a timeline, or a range with no play in it, nothing changes.
    assert apply_exclusions(rec, history, august).history == history
    later = Exclusions(periods=[(T0 + 20 * DAY, T0 + 30 * DAY)])
    assert apply_exclusions(rec, history, later, timeline=timeline).history == pytest.approx(history)
    assert august.with_period((T0, T0 + 5 * DAY), keep=True) == Exclusions()


def test_bad_time_ranges_are_refused_with_the_value(rec: Recommender) -> None:
    with pytest.raises(ValueError, match=r"start before it ends, got \(5, 5\)"):
        Exclusions(periods=[(5, 5)])
    with pytest.raises(ValueError, match="must be \\(start, end\\) epoch seconds, got 'soon'"):
        Exclusions().with_period("soon", keep=False)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Timeline.epochs has 1 entries, codes has 2"):
        Timeline(("x",), np.zeros(2, dtype=np.int32), np.zeros(1, dtype=np.int64), np.zeros(2))
    assert Exclusions(artists={"a"}, tracks={"t1", "t2"}, periods=[(1, 2)]).summary() == \
        "1 artist, 2 songs and 1 time range left out"
    assert Exclusions().summary() == ""


def test_unticked_artist_leaves_every_explanation_and_removed_tracks_stay_out(rec: Recommender) -> None:
    history = {tid(3 * j): float(1 + j) for j in range(12)}  # group 0, artists 0..11
    before = rec.recommend(history, Options(k=15, max_per_artist=None))
    top_artist = rec.arrays.artist_ids[rec.arrays.artists_of(rec.index_of([before.explanations[0].because[0].track_id])[0])[0]]
    edit = apply_exclusions(rec, history, Exclusions(artists={str(top_artist)}))
    assert edit.removed
    after = rec.recommend(edit.history, edit.options(Options(k=15, max_per_artist=None)))
    assert after.track_ids != before.track_ids
    for e in after.explanations:
        for c in e.because:
            row = rec.index_of([c.track_id])[0]
            assert str(top_artist) not in {str(rec.arrays.artist_ids[a]) for a in rec.arrays.artists_of(row)}
    assert not set(edit.removed) & set(after.track_ids)  # still known: never recommended back
    assert edit.options(Options()).exclude_ids == edit.removed
    assert TasteEdit({}).options(Options(k=3)) == Options(k=3)


def test_history_artists_sum_every_credited_track(rec: Recommender) -> None:
    history = {tid(9): 2.0, tid(10): 1.0, tid(21): 4.0, "not-in-the-bundle": 9.0}
    artists = {a.artist_id: a for a in history_artists(rec, history)}
    assert set(artists) == {"a3", "a7"}
    assert (artists["a3"].weight, artists["a3"].tracks) == (3.0, 2)
    assert (artists["a7"].weight, artists["a7"].tracks, artists["a7"].name) == (6.0, 2, "Artist 7")
    assert [a.artist_id for a in history_artists(rec, history)] == ["a7", "a3"]  # heaviest first
