"""The Playlists page's "Extend a playlist": signed in (real spotipy against the fake Spotify) and
in demo mode (a pasted list), through Streamlit's AppTest."""

from __future__ import annotations

import re

from streamlit.testing.v1 import AppTest

from engine.core.config import Settings
from engine.state.events import SAVE, read_events
from tests.app import test_signed_in
from tests.app.helpers import open_page, pick_demo_listener, run, start
from tests.app.test_signed_in import sign_in
from tests.fake_spotify import FakeSpotify
from webapp.extend_view import PICK_PREFIX

# The signed-in fixtures of test_signed_in: a fake Spotify that approves as alice, and the env for it.
fake = test_signed_in.fake
signed_in_env = test_signed_in.signed_in_env


def extend_mode(at: AppTest) -> AppTest:
    at.segmented_control(key="ext_mode").set_value("Extend a playlist")
    return run(at)


def pick_boxes(at: AppTest) -> list:
    return [c for c in at.checkbox if c.key and c.key.startswith(PICK_PREFIX)]


def picked_id(box) -> str:
    return box.key[len(PICK_PREFIX):]


def plain(markdown: str) -> str:
    """Markdown text without its escapes (what the page shows)."""
    return re.sub(r"\\(.)", r"\1", markdown)


def captions(at: AppTest) -> str:
    """Every caption of the page as plain text."""
    return plain("\n".join(c.value for c in at.caption))


def test_signed_in_the_listener_extends_their_own_playlist(signed_in_env: Settings, fake: FakeSpotify) -> None:
    road = fake.playlists_of("alice")[0]
    at = extend_mode(open_page(sign_in(), "playlists"))
    assert at.selectbox(key="ext_playlist").value == road.id
    assert fake.requests_to(f"/v1/playlists/{road.id}/items", "GET")  # read through the API
    text = captions(at)
    assert "**Road trip**: 11 songs, 11 of 11 tracks found in the catalogue" in text and "Left out: 1 local file." in text
    boxes = pick_boxes(at)
    assert len(boxes) == 20
    own = {u.rsplit(":", 1)[-1] for u, _, _ in road.items}
    assert not own & {picked_id(b) for b in boxes}  # never its own songs
    assert any(s in text for s in ("Fits its artists", "Its sound", "Its era", "Goes with"))
    add = at.button(key="ext_add")
    assert add.disabled  # nothing ticked yet

    chosen = [picked_id(b) for b in boxes[:2]]
    for box in boxes[:2]:
        box.check()
    run(at)
    fake.clear_requests()
    at.button(key="ext_add").click()
    run(at)

    assert plain(at.success[0].value) == "Added 2 songs to “Road trip”."
    (post,) = fake.requests_to(f"/v1/playlists/{road.id}/items", "POST")
    assert post.json == [f"spotify:track:{t}" for t in chosen]
    after = [u for u, _, _ in fake.playlist(road.id).items]
    assert after == [u for u, _, _ in road.items] + [f"spotify:track:{t}" for t in chosen]
    assert fake.requests_to(f"/v1/playlists/{road.id}/items", "GET")  # read again: the added songs are known now
    assert not set(chosen) & {picked_id(b) for b in pick_boxes(at)}
    saved = [e.track_id for e in read_events(signed_in_env.events_dir) if e.kind == SAVE]
    assert saved == chosen


def test_signed_in_the_extended_playlist_can_be_saved_as_a_new_one(signed_in_env: Settings, fake: FakeSpotify) -> None:
    road = fake.playlists_of("alice")[0]
    at = extend_mode(open_page(sign_in(), "playlists"))
    first = pick_boxes(at)[0]
    first.check()
    run(at)
    assert at.text_input(key=f"ext_new_name-{road.id}").value == "Road trip (extended)"
    next(b for b in at.button if b.label == "Save as a new playlist").click()
    run(at)
    assert plain(at.success[0].value) == "Created “Road trip (extended)” with 12 songs."
    (new,) = [p for p in fake.playlists_of("alice") if p.name == "Road trip (extended)"]
    tracks = [u for u, _, _ in road.items if u.startswith("spotify:track:")]
    assert [u for u, _, _ in new.items] == tracks + [f"spotify:track:{picked_id(first)}"]
    assert fake.playlist(road.id).items == road.items  # the original is untouched


def test_without_spotify_a_pasted_list_is_extended(app_env: Settings) -> None:
    at = extend_mode(open_page(pick_demo_listener(start()), "playlists"))
    assert not pick_boxes(at)  # nothing pasted yet
    next(b for b in at.button if b.label.startswith("Try it with 10 of")).click()
    run(at)
    pasted = at.text_area(key="ext_paste").value
    assert len(pasted.splitlines()) == 10 and all(" – " in line for line in pasted.splitlines())
    boxes = pick_boxes(at)
    assert len(boxes) == 20
    assert "10 songs, 10 of 10 tracks found in the catalogue" in captions(at)
    assert any("Sign in with Spotify on the Home page to add these songs" in i.value for i in at.info)
    assert at.get("download_button") and not [b for b in at.button if b.key == "ext_add"]

    at.text_area(key="ext_paste").input(pasted + "\nnot a song line\n")
    run(at)
    assert "Line 11 (“not a song line”) is neither “Artist – Title” nor a Spotify track link." in captions(at)
    assert len(pick_boxes(at)) == 20  # the rest is still used
