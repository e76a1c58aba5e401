"""app_logic: escaping, embed URLs, listeners and how controls + feedback become one request."""

from __future__ import annotations

import pandas as pd
import pytest

from app_logic import (
    LIKED_WEIGHT,
    SEED_WEIGHT,
    Listener,
    MatchSummary,
    RecControls,
    card_html,
    demo_label,
    embed_url,
    full_range_is_none,
    join_names,
    listener_from_demo,
    listener_from_history,
    md_escape,
    placeholder_html,
    reason_lines,
    recommend_args,
    sign_in_html,
)
from engine.core.matching import CatalogIndex
from engine.state.store import Feedback
from spotify.history import HistoryItem, history_from_items

EVIL = '<img src=x onerror="alert(1)"><script>alert(2)</script>'


def test_card_html_escapes_everything_from_the_catalogue() -> None:
    out = card_html(title=EVIL, artists=[EVIL, "A & B"], year=1999, lines=[f"Because you played {EVIL}"],
                    url="https://open.spotify.com/track/" + "a" * 22)
    assert "<script>" not in out and "<img" not in out and "onerror=\"" not in out
    assert "&lt;script&gt;" in out and "A &amp; B" in out and "· 1999" in out
    assert placeholder_html(EVIL, 3).count("<") == 2  # only the div's own tags
    assert ">♪<" in placeholder_html("<<", None)  # no letters: a note, not the raw text
    assert "&quot;" in sign_in_html('https://x/authorize?a=1&state="><script>')


def test_embed_urls_only_for_spotify_shaped_ids() -> None:
    good = "4uLU6hMCjMI75M1A2tKUQC"
    assert embed_url(good) == f"https://open.spotify.com/embed/track/{good}"
    for bad in ("syn:000001", good + "x", "4uLU6hMCjMI75M1A2tKUQ/", "javascript:alert(1)//aaaaaaaaaa", None, 42):
        assert embed_url(bad) is None


def test_md_escape_neutralizes_markdown() -> None:
    assert md_escape("![x](http://evil/p.png) *a* :red[b]") == r"\!\[x\]\(http\://evil/p\.png\) \*a\* \:red\[b\]"


def test_reasons_read_like_sentences() -> None:
    row = {"because": ["Song A", "Song B", "Song C", "Song D"], "reasons": ["genre: rock", "artist: Nina", "audio: 0.9"]}
    assert reason_lines(row, verb="played", cluster_label="high energy") == [
        "Because you played Song A, Song B and Song C",
        "Genre you like: rock",
        "By Nina, an artist you picked",
        "Sounds like your picks",
        "Sound: high energy",
    ]
    assert join_names(["A", "B"]) == "A and B" and join_names([]) == ""


def test_recommend_args_apply_feedback_and_controls() -> None:
    listener = Listener(kind="demo", label="x", history={"t1": 2.0, "t2": 1.0, "t0": 0.0}, seed_tracks=("s1",))
    feedback = Feedback(liked_tracks=frozenset({"t1", "t9"}), disliked_tracks=frozenset({"t2"}),
                        disliked_artists=frozenset({"a7"}))
    controls = RecControls(k=30, novelty=0.4, max_per_artist=1, year_range=(1970, 1989), energy_range=None,
                           explicit="Clean only", clusters=(2, 3))
    history, kwargs = recommend_args(listener, controls, feedback)
    assert history == {"t1": 2.0 + LIKED_WEIGHT, "t9": LIKED_WEIGHT, "s1": SEED_WEIGHT}
    assert kwargs["exclude_ids"] == ["t2"] and kwargs["exclude_artists"] == ["a7"]
    assert (kwargs["k"], kwargs["novelty"], kwargs["max_per_artist"]) == (30, 0.4, 1)
    assert kwargs["explicit"] is False and kwargs["clusters"] == [2, 3] and kwargs["year_range"] == (1970, 1989)
    assert kwargs["seed_tracks"] == ["s1", "t1", "t9"]
    _, defaults = recommend_args(listener, RecControls(), Feedback())
    assert defaults["explicit"] is None and defaults["clusters"] is None and defaults["exclude_ids"] == []


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


@pytest.mark.parametrize("cluster", [None, float("nan"), -1, 4])
def test_placeholder_handles_missing_clusters(cluster) -> None:
    assert "hsl(" in placeholder_html("Blue Moon", cluster) and ">BM<" in placeholder_html("Blue Moon", cluster)


def test_catalog_lookups_over_a_bundle(tmp_path) -> None:
    import app_catalog
    from engine.bundle.load import load_bundle
    from engine.bundle.publish import write_bundle
    from engine.serving.recommender import Recommender
    from tests.factories import random_bundle_parts

    parts = random_bundle_parts(n_items=60, seed=3)
    write_bundle(tmp_path / "b", **parts)
    rec = Recommender(load_bundle(tmp_path / "b"))
    index = CatalogIndex.from_items(rec.bundle.items)
    hits = app_catalog.search(rec, index, "artist 3 song 10", limit=3)
    assert hits[0] == ("0" * 20 + "10", "Artist 3 – Song 10 (1970)")
    ids = [t for t, _ in hits]
    assert app_catalog.labels_of(rec, ["nope"]) == {"nope": "nope"}
    assert app_catalog.first_artists(rec, [ids[0], ids[0], "nope"]) == ["a3"]
    neighbours = app_catalog.neighbours_frame(rec, rec.similar(ids[0], 5))
    assert len(neighbours) == 5 and ids[0] not in set(neighbours["track_id"])
    assert all(r[0].startswith("similar: ") for r in neighbours["reasons"])
