"""webapp.listeners: listeners and how controls + feedback become one request."""

from __future__ import annotations

import pandas as pd

from engine.core.matching import CatalogIndex, MatchResult
from engine.serving.listening import Listening
from engine.serving.results import ListStats
from engine.state.store import Feedback
from spotify.history import HistoryItem, history_from_items
from webapp.listeners import (
    LIKED_WEIGHT,
    SEED_WEIGHT,
    Listener,
    MatchSummary,
    RecControls,
    demo_label,
    full_range_is_none,
    list_caption,
    listener_from_demo,
    listener_from_history,
    recommend_request,
)


def test_recommend_request_applies_feedback_and_controls() -> None:
    listener = Listener(kind="demo", label="x", history={"t1": 2.0, "t2": 1.0, "t0": 0.0}, seed_tracks=("s1",))
    feedback = Feedback(liked_tracks=frozenset({"t1", "t9"}), disliked_tracks=frozenset({"t2"}),
                        disliked_artists=frozenset({"a7"}))
    controls = RecControls(k=30, novelty=0.4, max_per_artist=1, year_range=(1970, 1989), energy_range=None,
                           explicit="Clean only", clusters=(2, 3))
    history, options = recommend_request(listener, controls, feedback)
    assert history == {"t1": 2.0 + LIKED_WEIGHT, "t9": LIKED_WEIGHT, "s1": SEED_WEIGHT}
    assert options.exclude_ids == ("t2",) and options.exclude_artists == ("a7",)
    assert (options.k, options.novelty, options.max_per_artist) == (30, 0.4, 1)
    assert options.explicit is False and options.clusters == (2, 3) and options.year_range == (1970, 1989)
    assert options.seed_tracks == ("s1", "t1", "t9")
    _, defaults = recommend_request(listener, RecControls(), Feedback())
    assert defaults.explicit is None and defaults.clusters is None and defaults.exclude_ids == ()


def test_full_range_means_no_filter() -> None:
    assert full_range_is_none((1950, 2021), (1950, 2021)) is None
    assert full_range_is_none((0.0, 0.5), (0.0, 1.0)) == (0.0, 0.5)


def test_listener_from_history_matches_and_summarizes() -> None:
    items = pd.DataFrame({"track_id": ["a" * 22, "b" * 22], "name": ["Yesterday", "Help!"],
                          "artists": [["The Beatles"], ["The Beatles"]], "popularity": [80, 70]})
    history = history_from_items([
        HistoryItem("a" * 22, "Yesterday", "The Beatles", weight=3.0, image_url="https://i/1.jpg"),
        HistoryItem(None, "Help", "Beatles", weight=2.0),
        HistoryItem("z" * 22, "Unknown song", "Nobody", weight=1.0),
    ], origin="test")
    listener = listener_from_history(history, CatalogIndex.from_items(items), kind="spotify", label="Alice")
    assert listener.history == {"a" * 22: 3.0, "b" * 22: 2.0}
    assert listener.match == MatchSummary(total=3, matched=2, by_path={"track_id": 1, "name": 1, "artist": 0},
                                          unmatched=("Nobody – Unknown song",))
    assert listener.match.sentence == "2 of 3 tracks found in the catalogue"
    assert listener.images == {"a" * 22: "https://i/1.jpg"}


def test_demo_listener_sums_weights_and_is_synthetic() -> None:
    history = pd.DataFrame({"user_id": ["demo:001"] * 3 + ["demo:002"], "track_id": ["t1", "t1", "t2", "t3"],
                            "weight": [2.0, 1.0, 4.0, 9.0]})
    listener = listener_from_demo(history, "demo:001", name="rock & soul")
    assert listener.history == {"t1": 3.0, "t2": 4.0} and listener.synthetic
    assert listener.label == "Demo listener 001 (rock & soul)"
    assert demo_label({"user_id": "demo:001", "display_name": "rock", "n_tracks": 35}) == "rock · 35 tracks"


def test_match_summary_breakdown_and_list_caption() -> None:
    result = MatchResult(counts={"track_id": 40, "name": 28, "artist": 2521, "unmatched": 5700})
    summary = MatchSummary.from_result(result)
    assert summary.sentence == "2,589 of 8,289 tracks found in the catalogue"
    assert summary.breakdown == "40 by id, 28 by artist + title, 2,521 by artist only"
    assert list_caption(ListStats(0.4, 81.0)).startswith("40% new artists · popularity percentile 81")
    assert list_caption(ListStats(float("nan"), float("nan"))) == "No tracks in this list."


def test_recommend_request_carries_the_dial_and_the_artist_weights() -> None:
    listener = Listener(kind="export", label="x", history=Listening(tracks={"t": 1.0}, artists={"a1": 4.0}))
    history, options = recommend_request(listener, RecControls(discovery=0.7), Feedback())
    assert options.discovery == 0.7 and history.artists == {"a1": 4.0} and dict(history) == {"t": 1.0}
