"""The Blend's words, badges and card rows (webapp.blend_cards), on a small real Recommender."""

from __future__ import annotations

import csv
import io

import pytest

from engine.serving.listening import Listening
from engine.serving.listens import listens_behind
from engine.serving.options import Options
from engine.serving.recommender import Recommender
from engine.serving.together import shared_list, taste_match
from spotify.playlists import tracks_to_csv
from tests.engine.test_together import A, B
from tests.factories import published_recommender, random_bundle_parts
from webapp.blend_cards import (
    KIND_SHARE,
    NO_NAME,
    badge_text,
    blend_card_html,
    blend_frame,
    match_caption,
    partner_from_share,
    short_name,
)
from webapp.listeners import KIND_DEMO, Listener
from webapp.share_code import SharedTaste


@pytest.fixture(scope="module")
def rec(tmp_path_factory: pytest.TempPathFactory) -> Recommender:
    tmp = tmp_path_factory.mktemp("blend-cards")
    parts = random_bundle_parts(n_items=300, rank=8, seed=0)
    return published_recommender(tmp, parts)


def test_badges_name_whose_taste_it_is() -> None:
    assert badge_text("a", "Robin") == "From your taste"
    assert badge_text("b", "Robin") == "From Robin's taste"
    assert badge_text("both", "Robin") == "Both of you"


def test_a_share_code_listener_carries_only_the_taste() -> None:
    taste = SharedTaste(tracks={"t1": 3.0}, artists={"a1": 2.0}, name="Robin")
    partner = partner_from_share(taste)
    assert partner.kind == KIND_SHARE and partner.label == "Robin (share code)" and short_name(partner) == "Robin"
    assert partner.history == Listening(tracks={"t1": 3.0}, artists={"a1": 2.0})
    assert short_name(partner_from_share(SharedTaste(tracks={"t1": 1.0}))) == NO_NAME


def test_rows_say_each_rank_and_the_listens_of_both_and_save_as_csv(rec: Recommender) -> None:
    out = shared_list(rec, A, B, Options(k=10))
    you = Listener(kind=KIND_DEMO, label="Demo listener 001 (x)", history=A)
    other = Listener(kind=KIND_DEMO, label="Demo listener 002 (y)", history=B)
    ids = list(out.track_ids)
    frame = blend_frame(rec, out, listens_behind(rec, A, ids), listens_behind(rec, B, ids), you=you, partner=other)
    assert frame["track_id"].tolist() == ids
    assert frame["side"].tolist() == list(out.sides)
    assert frame["badge"].tolist() == [badge_text(s, "Demo listener 002") for s in out.sides]
    for lines, (rank_a, rank_b) in zip(frame["lines"], out.ranks.tolist()):
        assert lines[0] == f"#{rank_a:,.0f} for you · #{rank_b:,.0f} for Demo listener 002 (of {out.n_scored:,} songs)"
        assert lines[1].startswith("You: because you played ")
        assert lines[2].startswith("Demo listener 002: because they played ")
    rows = list(csv.DictReader(io.StringIO(tracks_to_csv(frame.to_dict("records")))))
    assert [r["track_id"] for r in rows] == ids and rows[0]["title"] == frame["name"].iloc[0]


def test_card_html_escapes_catalogue_text(rec: Recommender) -> None:
    row = {"track_id": f"{1:022d}", "name": '<img src=x onerror="alert(1)">', "artists": ["<b>x</b>"],
           "year": 1999, "side": "b", "badge": "From <Robin>'s taste", "lines": ["<script>1</script>"]}
    text = blend_card_html(row)
    assert text.startswith('<span class="blend-badge blend-b">From &lt;Robin&gt;&#x27;s taste</span>')
    assert "<img" not in text and "<script>" not in text and "<b>" not in text


def test_the_match_caption_names_shared_artists(rec: Recommender) -> None:
    match = taste_match(rec, A, B)
    caption = match_caption(rec, match)
    assert f"{match.overlap:.0%} of your artist shares in common" in caption
    assert str(rec.arrays.artist_names[match.shared_artists[0]]) in caption
    alone = taste_match(rec, A, Listening(tracks={}, artists={"a0": 1.0}))
    assert "artists alone" in match_caption(rec, alone)
