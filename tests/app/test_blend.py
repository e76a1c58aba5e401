"""The Recommendations page's Blend section (real Streamlit AppTest, demo mode).

A demo listener blends with the other demo listener (the match %, the shared list, a badge on
every card, the CSV), with a share code another session made, and with a data export; a bad
share code is one sentence and blends with nobody.
"""

from __future__ import annotations

import html
import json
import re

from streamlit.testing.v1 import AppTest

from engine.bundle.load import load_current
from engine.core.config import Settings
from tests.app.conftest import DEMO_USERS, demo_tables
from tests.app.helpers import open_page, pick_demo_listener, run, start
from tests.conftest import TEST_DATA

_BLEND_CARD = re.compile(r'^<span class="blend-badge blend-(a|b|both)">([^<]*)</span><div class="rec-card">'
                         r'<div class="rec-title"><a href="https://open\.spotify\.com/track/([0-9A-Za-z]{22})"')
BADGES = {"a": "From your taste", "b": "From Demo listener 002's taste", "both": "Both of you"}


def blend_cards(at: AppTest) -> list[tuple[str, str, str]]:
    """``(side, badge, track id)`` of every Blend card on the page, top to bottom."""
    found = [m.groups() for h in at.get("html") for m in [_BLEND_CARD.match(h.proto.body)] if m]
    return [(side, html.unescape(badge), track) for side, badge, track in found]


def blended_with_demo(user: str = DEMO_USERS[1]) -> AppTest:
    at = open_page(pick_demo_listener(start(), DEMO_USERS[0]), "recommendations")
    assert not blend_cards(at) and not at.metric  # nobody to blend with yet
    at.selectbox(key="blend_demo").select(user)
    at.button(key="blend_demo_go").click()
    return run(at)


def history_of(settings: Settings, user: str) -> set[str]:
    history = demo_tables(load_current(settings.models_dir).items)["demo_history"]
    return set(history.loc[history["user_id"] == user, "track_id"])


def test_blending_two_demo_listeners_shows_the_match_the_shared_list_and_badges(app_env: Settings) -> None:
    at = blended_with_demo()
    (metric,) = at.metric
    assert metric.label == "Taste match" and re.fullmatch(r"\d{1,3}%", metric.value)
    assert 0 <= int(metric.value[:-1]) < 100  # two listeners of different clusters are not one taste
    cards = blend_cards(at)
    assert len(cards) == 20 and len({t for _, _, t in cards}) == 20  # the page's "How many"
    assert all(badge == BADGES[side] for side, badge, _ in cards)
    assert {side for side, _, _ in cards} - {"both"}  # whose taste: not every card says "both"
    shared = {t for _, _, t in cards}
    assert not shared & (history_of(app_env, DEMO_USERS[0]) | history_of(app_env, DEMO_USERS[1]))
    text = html.unescape(" ".join(h.proto.body for h in at.get("html")))
    assert "for you · #" in text and "for Demo listener 002 (of " in text
    assert "You: because you played" in text and "Demo listener 002: because they played" in text
    assert [b.proto.label for b in at.get("download_button")][-1] == "Download the blend as CSV"
    assert any("Sign in with Spotify on the Home page to save the blend" in c.value for c in at.caption)


def test_the_same_listener_matches_100_percent(app_env: Settings) -> None:
    at = blended_with_demo(DEMO_USERS[0])
    assert at.metric[0].value == "100%"


def test_stop_blending_removes_the_section_s_list(app_env: Settings) -> None:
    at = blended_with_demo()
    at.button(key="blend_stop").click()
    run(at)
    assert not blend_cards(at) and not at.metric


def test_a_share_code_from_another_session_blends_here(app_env: Settings) -> None:
    other = open_page(pick_demo_listener(start(), DEMO_USERS[1]), "recommendations")
    other.text_input(key="blend_share_name").input("Robin")
    other.button(key="blend_share_make").click()
    run(other)
    (code,) = [c.value for c in other.code]
    assert code.startswith("mr1.") and any("Valid until" in c.value for c in other.caption)

    at = open_page(pick_demo_listener(start(), DEMO_USERS[0]), "recommendations")
    at.segmented_control(key="blend_source").set_value("A share code")
    run(at)
    at.text_area(key="blend_code").input(code)
    at.button(key="blend_code_go").click()
    run(at)
    assert not at.error
    assert any("Robin \\(share code\\)" in m.value for m in at.markdown)
    cards = blend_cards(at)
    assert len(cards) == 20 and {b for _, b, _ in cards} <= {"From your taste", "From Robin's taste", "Both of you"}
    # the code carried demo:002's taste: the same list as blending with that demo listener
    assert [t for _, _, t in cards] == [t for _, _, t in blend_cards(blended_with_demo())]


def test_a_bad_share_code_is_one_sentence_and_blends_with_nobody(app_env: Settings) -> None:
    at = open_page(pick_demo_listener(start(), DEMO_USERS[0]), "recommendations")
    at.segmented_control(key="blend_source").set_value("A share code")
    run(at)
    for code, words in (("not a code", "not a share code"), ("mr1.e30.AAAA.BBBB", "does not check out"),
                        ("mr1." + "A" * 7000, "too long")):
        at.text_area(key="blend_code").input(code)
        at.button(key="blend_code_go").click()
        run(at)
        (error,) = at.error
        assert words in error.value and "\n" not in error.value and "Traceback" not in error.value
        assert not blend_cards(at) and not at.metric


def upload_export(at: AppTest, data: bytes, *, name: str = "") -> AppTest:
    at.segmented_control(key="blend_source").set_value("A data export")
    run(at)
    at.file_uploader(key="blend_export").set_value([("endsong.json", data, "application/json")])
    at.text_input(key="blend_export_name").input(name)
    run(at)
    at.button(key="blend_export_go").click()
    return run(at)


def test_a_data_export_can_be_the_second_listener(app_env: Settings) -> None:
    """An export of demo:002's tracks (as plays Spotify would list) blends like demo:002."""
    items = load_current(app_env.models_dir).items.set_index("track_id")
    plays = [{"ts": f"2026-01-{1 + n % 28:02d}T10:00:00Z", "ms_played": 200_000,
              "master_metadata_track_name": items.at[t, "name"],
              "master_metadata_album_artist_name": list(items.at[t, "artists"])[0],
              "spotify_track_uri": f"spotify:track:{t}"}
             for n, t in enumerate(sorted(history_of(app_env, DEMO_USERS[1])) * 3)]
    at = upload_export(open_page(pick_demo_listener(start(), DEMO_USERS[0]), "recommendations"),
                       json.dumps(plays).encode(), name="Sam")
    assert not at.error and not at.warning
    assert any("Sam \\(data export\\)" in m.value for m in at.markdown)
    cards = blend_cards(at)
    assert len(cards) == 20 and {b for _, b, _ in cards} <= {"From your taste", "From Sam's taste", "Both of you"}
    assert int(at.metric[0].value[:-1]) == int(blended_with_demo().metric[0].value[:-1])  # the same taste


def test_an_export_the_catalogue_does_not_know_says_so(app_env: Settings) -> None:
    data = (TEST_DATA / "spotify" / "Streaming_History_Audio_2025-2026_0.json").read_bytes()
    at = upload_export(open_page(pick_demo_listener(start(), DEMO_USERS[0]), "recommendations"), data)
    assert [w.value for w in at.warning] == [
        "None of their songs or artists are in the catalogue, so there is nothing to blend yet."]
    assert not blend_cards(at) and not at.metric


def test_the_blend_follows_the_pages_controls(app_env: Settings) -> None:
    at = blended_with_demo()
    assert len(blend_cards(at)) == 20
    at.slider(key="ctl_k").set_value(10)
    run(at)
    assert len(blend_cards(at)) == 10  # not the Blend remembered for 20
    at.slider(key="ctl_per_artist").set_value(1)
    run(at)
    cards = blend_cards(at)
    artists = load_current(app_env.models_dir).items.set_index("track_id")["artist_ids"]
    credited = [a for _, _, t in cards for a in artists[t]]
    assert len(cards) == 10 and len(credited) == len(set(credited))  # at most one per artist now
