"""webapp.taste_edit: exclusions on top of the request, the listener's timeline, dates and wording."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest

from engine.core.matching import CatalogIndex
from engine.serving.exclusions import Exclusions, TasteEdit
from engine.serving.listens import Listens
from engine.serving.recommender import Recommender
from engine.state.store import Feedback
from spotify.history import HistoryItem, history_from_items
from tests.factories import published_recommender, random_bundle_parts
from webapp.listeners import LIKED_WEIGHT, Listener, RecControls, listener_from_history
from webapp.taste_edit import (
    artist_choices,
    listen_detail,
    newly_removed,
    percent,
    period_bounds,
    period_label,
    period_of,
    taste_request,
    track_labels,
)


def tid(i: int) -> str:
    return f"{i:022d}"


@pytest.fixture(scope="module")
def rec(tmp_path_factory: pytest.TempPathFactory) -> Recommender:
    tmp: Path = tmp_path_factory.mktemp("taste")
    return published_recommender(tmp, random_bundle_parts(n_items=120, seed=1))


def test_exclusions_apply_after_likes_and_keep_removed_tracks_out(rec: Recommender) -> None:
    listener = Listener(kind="demo", label="x", history={tid(0): 2.0, tid(1): 1.0, tid(3): 5.0})
    feedback = Feedback(liked_tracks=frozenset({tid(4)}), disliked_tracks=frozenset({tid(1)}))
    excl = Exclusions(artists={"a1"}, tracks={tid(0)})  # a1: items 3, 4, 5 (factories: i // 3)
    history, options, edit = taste_request(rec, listener, RecControls(), feedback, excl)
    assert history == {} and set(edit.removed) == {tid(0), tid(3), tid(4)}  # the liked tid(4) is a1's too
    assert set(options.exclude_ids) == {tid(1), tid(0), tid(3), tid(4)}
    history, _, _ = taste_request(rec, listener, RecControls(), feedback, Exclusions(tracks={tid(3)}))
    assert history == {tid(0): 2.0, tid(4): LIKED_WEIGHT}
    assert newly_removed(TasteEdit({}, removed=(tid(0),)), edit) == [tid(3), tid(4)]


def test_a_history_with_times_gives_the_listener_a_timeline() -> None:
    items = pd.DataFrame({"track_id": ["a" * 22, "b" * 22], "name": ["Yesterday", "Help!"],
                          "artists": [["The Beatles"], ["The Beatles"]], "popularity": [80, 70]})
    may1 = datetime(2024, 5, 1, 10, tzinfo=UTC).timestamp()
    history = history_from_items([
        HistoryItem("a" * 22, "Yesterday", "The Beatles", weight=3.0, play_times=(may1, may1 + 86_400 * 2),
                    play_weights=(1.0, 1.0)),
        HistoryItem(None, "Help", "Beatles", weight=2.0),
    ], origin="test")
    index = CatalogIndex.from_items(items)
    listener = listener_from_history(history, index, kind="export", label="Export")
    assert listener.timeline is not None and len(listener.timeline) == 2
    assert period_bounds(listener.timeline) == (date(2024, 5, 1), date(2024, 5, 3))
    untimed = listener_from_history(history_from_items([HistoryItem("b" * 22, "Help!", "The Beatles", weight=1.0)],
                                                       origin="test"), index, kind="spotify", label="x")
    assert untimed.timeline is None and period_bounds(None) is None


def test_dates_and_wording() -> None:
    assert period_of(date(2024, 5, 3), date(2024, 5, 1)) == (1714521600, 1714780800)  # May 1 to the end of May 3
    assert period_label((1714521600, 1714780800)) == "2024-05-01 – 2024-05-03"
    assert period_label(period_of(date(2024, 5, 2), date(2024, 5, 2))) == "2024-05-02"
    listens = Listens("t", total=2.0)
    assert percent(listens, 0.82) == "41%" and percent(Listens("t", total=0.0), 1.0) == "0%"
    assert listen_detail(3.0, 12) == "12 plays" and listen_detail(1.0, 1) == "1 play"
    assert listen_detail(3.456, None) == "weight 3.46"


def test_labels_and_artist_choices(rec: Recommender) -> None:
    history = {tid(3): 1.0, tid(4): 2.0, tid(9): 1.0, "unknown": 4.0}
    assert track_labels(rec, list(history)) == {tid(3): "Artist 1 – Song 3", tid(4): "Artist 1 – Song 4",
                                                 tid(9): "Artist 3 – Song 9"}
    assert artist_choices(rec, history) == {"a1": "Artist 1 · 2 songs", "a3": "Artist 3 · 1 song"}
