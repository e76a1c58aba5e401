"""The app signed in with Spotify: real OAuth and spotipy against the local fake Spotify server."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import streamlit as st
from streamlit.testing.v1 import AppTest

from engine.core.config import Settings
from engine.state.events import read_events
from engine.state.store import Store
from spotify.auth import redirect_problem
from tests.app.conftest import APP, TIMEOUT
from tests.app.helpers import PAGES, open_page, run, shown_ids, start
from tests.fake_spotify import FakeSpotify
from webapp.cards import md_escape


@pytest.fixture()
def fake() -> Iterator[FakeSpotify]:
    # The generated catalogue is the one the app's test bundle is built from.
    with FakeSpotify(catalogue=None, auto_approve="alice") as server:
        yield server


@pytest.fixture()
def signed_in_env(app_env: Settings, fake: FakeSpotify, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("SPOTIFY_CLIENT_ID", "fake-client-id")
    monkeypatch.setenv("SPOTIFY_CLIENT_SECRET", "fake-client-secret")
    monkeypatch.setenv("SPOTIFY_API_BASE", fake.api_base)
    monkeypatch.setenv("SPOTIFY_ACCOUNTS_BASE", fake.accounts_base)
    monkeypatch.setenv("SPOTIFY_REDIRECT_URI", "http://127.0.0.1:8501/")
    return Settings.from_env(env_file=None)


def sign_in_url(at: AppTest) -> str | None:
    """The href of the "Sign in with Spotify" link on the page (None when absent)."""
    for element in at.get("html"):
        match = re.search(r'<a class="signin" href="([^"]+)"[^>]*>Sign in with Spotify</a>', element.proto.body)
        if match:
            return html.unescape(match.group(1))
    return None


def approved_redirect(at: AppTest) -> dict[str, str]:
    """Follow the page's sign-in link through the fake (which approves at once): the redirect's query."""
    answer = requests.get(sign_in_url(at), allow_redirects=False, timeout=10)
    assert answer.status_code in (302, 303), answer.text
    back = urlsplit(answer.headers["Location"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == "http://127.0.0.1:8501/"
    return {key: values[0] for key, values in parse_qs(back.query).items()}


def land(at: AppTest, query: dict[str, str]) -> AppTest:
    """Open the app at Spotify's redirect, in session ``at``."""
    for key, value in query.items():
        at.query_params[key] = value
    return run(at)


def sign_in() -> AppTest:
    """Click "Sign in with Spotify", let the fake approve, and land back signed in.

    In a browser the redirect opens a new Streamlit session that carries the binding cookie
    the link's click wrote (tests/browser covers that); AppTest cannot send cookies, so the
    callback lands in the session that started, which holds the same nonce.
    """
    home = start()
    return land(home, approved_redirect(home))


def fresh_session() -> AppTest:
    """A new browser session that did not start any sign-in (no nonce, no cookie)."""
    return AppTest.from_file(APP, default_timeout=TIMEOUT)


def test_sign_in_loads_and_matches_the_spotify_history(signed_in_env: Settings, fake: FakeSpotify) -> None:
    at = sign_in()
    assert not at.error
    success = at.success[0].value
    assert "Alice Andersson" in success and "tracks found in the catalogue" in success
    assert "code" not in at.query_params and "state" not in at.query_params  # one-time code dropped
    key = at.session_state["user_key"]
    assert key.startswith("sp:") and "alice" not in key
    assert key == Store(signed_in_env.store_path).user_key_for("alice", secret=signed_in_env.app_state_secret)
    assert fake.requests_to("/v1/me/top/tracks") and fake.requests_to("/v1/me/tracks")
    assert [b.label for b in at.button][:2] == ["Reload my Spotify history", "Sign out"]


@pytest.mark.parametrize("page", list(PAGES))
def test_every_page_renders_signed_in(signed_in_env: Settings, page: str) -> None:
    at = open_page(sign_in(), page)
    if page == "recommendations":
        assert len(shown_ids(at)) == 20
        covers = [h.proto.body for h in at.get("html") if 'class="rec-cover rec-art"' in h.proto.body]
        assert covers and all('src="http' in c for c in covers)  # album art fetched from Spotify for the first cards
    if page == "taste":
        assert "of" in at.metric[0].value and len(at.get("vega_lite_chart")) == 5
    if page == "playlists":
        assert at.get("form")


def test_a_replayed_sign_in_link_is_refused_with_a_sentence(signed_in_env: Settings) -> None:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params["code"] = "AQ-made-up"
    at.query_params["state"] = "v1.1.nonce.bad-signature"
    run(at)
    assert "please sign in again" in at.error[0].value
    assert sign_in_url(at)  # and the way forward is right there


def test_saving_a_playlist_sends_exactly_the_shown_tracks(signed_in_env: Settings, fake: FakeSpotify) -> None:
    at = open_page(sign_in(), "recommendations")
    at.slider(key="ctl_k").set_value(15)
    run(at)
    shown = shown_ids(at)
    open_page(at, "playlists")
    table = at.dataframe[0].value
    assert len(table) == len(shown) == 15
    fake.clear_requests()
    at.text_input[0].input("My test mix")
    submit = next(b for b in at.button if b.label == "Save to Spotify")
    submit.click()
    run(at)
    assert "Created" in at.success[0].value
    (created,) = fake.requests_to("/v1/me/playlists", "POST")
    assert created.json["name"] == "My test mix" and created.json["public"] is False
    (playlist,) = fake.playlists_of("alice")[-1:]
    assert [uri for uri, _, _ in playlist.items] == [f"spotify:track:{t}" for t in shown]
    link = at.get("link_button")[0].proto.url
    assert playlist.id in link

    # Saving again (after a change) updates the same playlist instead of creating another.
    store = Store(signed_in_env.store_path)
    assert [p.playlist_id for p in store.playlists(at.session_state["user_key"])] == [playlist.id]
    open_page(at, "recommendations")
    at.slider(key="ctl_k").set_value(10)
    run(at)
    shown = shown_ids(at)
    open_page(at, "playlists")
    fake.clear_requests()
    next(b for b in at.button if b.label == "Save to Spotify").click()
    run(at)
    assert "Updated" in at.success[0].value
    assert not fake.requests_to("/v1/me/playlists", "POST")
    assert fake.requests_to(f"/v1/playlists/{playlist.id}/items", "PUT")
    assert [uri for uri, _, _ in fake.playlist(playlist.id).items] == [f"spotify:track:{t}" for t in shown]
    saved_events = [e for e in read_events(signed_in_env.events_dir) if e.kind == "save"]
    assert len(saved_events) == 15 + 10


def test_sign_out_forgets_the_token(signed_in_env: Settings) -> None:
    at = sign_in()
    key = at.session_state["user_key"]
    next(b for b in at.button if b.label == "Sign out").click()
    run(at)
    assert sign_in_url(at) and not at.success
    assert at.session_state["user_key"] != key and "spotify_token_info" not in at.session_state


def test_a_listener_without_history_gets_popular_tracks(signed_in_env: Settings, fake: FakeSpotify) -> None:
    fake.auto_approve = "carol"  # a brand-new account
    at = sign_in()
    assert "Carol Carlsson" in at.success[0].value and "0 of 0 tracks" in at.success[0].value
    open_page(at, "recommendations")
    assert "None of your songs are in the model yet" in at.info[0].value
    assert len(shown_ids(at)) == 20
    open_page(at, "taste")
    assert "no profile to draw" in at.info[0].value


def test_spotify_rate_limit_at_sign_in_is_a_sentence(signed_in_env: Settings, fake: FakeSpotify) -> None:
    # Spotify asks for a wait far beyond what a page may block: the app says so and moves on.
    fake.fail_next(20, 429, retry_after=3600, path_prefix="/v1/me")
    at = sign_in()
    assert at.error and "Spotify is limiting" in at.error[0].value and "60 minutes" in at.error[0].value
    assert "listener" not in at.session_state or at.session_state["listener"] is None


def test_an_error_text_from_the_redirect_is_never_shown(signed_in_env: Settings) -> None:
    evil = "![x](http://evil.invalid/beacon.png) call +1-555"
    at = land(fresh_session(), {"error": evil, "state": "v2.1.made-up-nonce-xx.sig"})
    assert "could not be verified" in at.error[0].value  # the state is checked first
    home = start()
    state = parse_qs(urlsplit(sign_in_url(home) or "").query)["state"][0]
    land(home, {"error": evil, "state": state})
    assert at.error[0].value and all("evil" not in e.value and "555" not in e.value for e in [*at.error, *home.error])
    assert home.error[0].value == md_escape("Spotify did not complete the sign-in; please try again.")


def test_a_forwarded_sign_in_link_does_not_sign_in_silently(signed_in_env: Settings, fake: FakeSpotify) -> None:
    fake.auto_approve = "bob"  # the attacker approves a sign-in to their own account ...
    query = approved_redirect(start())
    fake.clear_requests()
    victim = land(fresh_session(), query)  # ... and the victim opens the link in their browser

    assert not victim.success and "spotify_token_info" not in victim.session_state
    assert "user_key" not in victim.session_state or not victim.session_state["user_key"].startswith("sp:")
    assert "Bob Berg" in victim.warning[0].value and "Not me" in victim.warning[0].value
    assert not fake.requests_to("/v1/me/top/tracks")  # no history read, nothing stored under bob
    next(b for b in victim.button if b.label == "Not me").click()
    run(victim)
    assert not victim.warning and not victim.success and sign_in_url(victim)
    assert "spotify_unconfirmed_token" not in victim.session_state and "spotify_token_info" not in victim.session_state


def test_confirming_a_sign_in_from_another_session_signs_in(signed_in_env: Settings, fake: FakeSpotify) -> None:
    # E.g. a browser that blocks the sign-in cookie: the listener confirms their own account.
    at = land(fresh_session(), approved_redirect(start()))
    assert "Alice Andersson" in at.warning[0].value
    next(b for b in at.button if b.label.startswith("Continue as")).click()
    run(at)
    assert not at.warning and "Listening as **Alice Andersson**" in at.success[0].value
    assert at.session_state["user_key"].startswith("sp:")


def test_the_listener_key_survives_a_lost_database(signed_in_env: Settings) -> None:
    key = sign_in().session_state["user_key"]
    for path in signed_in_env.store_path.parent.glob(signed_in_env.store_path.name + "*"):
        path.unlink()  # an ephemeral disk: the SQLite file (and its random salt) is gone
    st.cache_resource.clear()  # ... and the app restarted
    assert sign_in().session_state["user_key"] == key
    assert key != Store(signed_in_env.store_path).user_key_for("alice")  # not the new file's random salt


def test_a_localhost_redirect_uri_is_a_sentence(signed_in_env: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPOTIFY_REDIRECT_URI", "http://localhost:8501/")
    at = start()
    assert not sign_in_url(at)
    assert at.error[0].value == md_escape(redirect_problem("http://localhost:8501/"))
    assert "does not accept 'localhost'" in at.error[0].value


def test_spotify_refusing_the_save_is_a_sentence(signed_in_env: Settings, fake: FakeSpotify) -> None:
    at = open_page(sign_in(), "playlists")
    fake.fail_next(1, 403, path_prefix="/v1/me/playlists")
    next(b for b in at.button if b.label == "Save to Spotify").click()
    run(at)
    assert "Spotify refused access \\(HTTP 403\\)" in at.error[0].value and "Nothing was saved" in at.error[0].value
    assert not fake.playlists_of("alice")[1:]  # only the seeded playlist
    assert not Store(signed_in_env.store_path).playlists(at.session_state["user_key"])
