"""Sign-in against the fake Spotify with the real spotipy: both flows, isolation, state, PKCE, refresh."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest

from spotify.auth import (
    SCOPES,
    TOKEN_KEY,
    AuthConfig,
    PendingVerifiers,
    SpotifyAuth,
    sign_state,
    verify_state,
)
from spotify.errors import AuthError
from tests.fake_spotify import FakeSpotify
from tests.spotify.conftest import STATE_SECRET, approve, auth_config


@pytest.mark.parametrize("pkce", [False, True], ids=["client-secret", "pkce"])
def test_full_sign_in_reaches_me(fake: FakeSpotify, verifiers: PendingVerifiers, pkce: bool) -> None:
    session: dict = {}
    auth = SpotifyAuth(auth_config(fake, pkce=pkce), session, verifiers=verifiers)
    assert not auth.is_signed_in()
    url = auth.authorize_url()
    query = parse_qs(urlsplit(url).query)
    assert url.startswith(fake.accounts_base + "/authorize?")
    assert query["redirect_uri"] == ["http://127.0.0.1:8501/"]
    assert set(query["scope"][0].split()) == set(SCOPES)
    assert ("code_challenge" in query) is pkce

    token = auth.handle_callback(approve(fake, url, "bob"))

    assert auth.is_signed_in() and session[TOKEN_KEY]["access_token"] == token["access_token"]
    assert auth.client().me()["id"] == "bob"
    grant = fake.requests_to("/api/token")[-1]
    assert grant.form["grant_type"] == "authorization_code"
    assert ("code_verifier" in grant.form) is pkce
    assert [r.user for r in fake.requests_to("/v1/me")] == ["bob"]


def test_two_sessions_never_see_each_others_token_or_data(fake: FakeSpotify, signed_in) -> None:
    session_a: dict = {}
    session_b: dict = {}
    alice = signed_in("alice", session=session_a)
    bob = signed_in("bob", pkce=True, session=session_b)

    assert session_a[TOKEN_KEY]["access_token"] != session_b[TOKEN_KEY]["access_token"]
    assert alice.client().me()["id"] == "alice"
    assert bob.client().me()["id"] == "bob"
    alice_saved = {i["track"]["id"] for i in alice.client().current_user_saved_tracks(limit=50)["items"]}
    bob_saved = {i["track"]["id"] for i in bob.client().current_user_saved_tracks(limit=50)["items"]}
    assert alice_saved and bob_saved and not alice_saved & bob_saved
    assert alice_saved <= {t for t, _ in fake.seed.users["alice"].saved}
    # Signing one out leaves the other signed in.
    session_a["spotify_history"] = "alice's derived data"
    session_a["page"] = "kept"
    alice.sign_out()
    assert TOKEN_KEY not in session_a and not alice.is_signed_in()
    assert session_a == {"page": "kept"}
    assert bob.client().me()["id"] == "bob"
    with pytest.raises(AuthError, match="not signed in"):
        alice.client()


def test_forged_state_is_refused(fake: FakeSpotify, verifiers: PendingVerifiers) -> None:
    auth = SpotifyAuth(auth_config(fake), {}, verifiers=verifiers)
    query = approve(fake, auth.authorize_url(), "alice")
    forged = sign_state(b"attacker's secret", client_id="fake-client-id", issued_at=int(time.time()),
                        nonce="abc")
    for state in (forged, "v1.123.abc", "not-a-state", query["state"][0][:-2] + "xx"):
        with pytest.raises(AuthError, match="could not be verified"):
            auth.handle_callback({**query, "state": [state]})
    assert not auth.is_signed_in()
    assert fake.requests_to("/api/token") == []  # refused before any code exchange


def test_expired_state_is_refused(fake: FakeSpotify, verifiers: PendingVerifiers) -> None:
    auth = SpotifyAuth(auth_config(fake), {}, verifiers=verifiers)
    query = approve(fake, auth.authorize_url(), "alice")
    old = sign_state(STATE_SECRET.encode(), client_id="fake-client-id",
                     issued_at=int(time.time()) - 3600, nonce="n0nce")
    with pytest.raises(AuthError, match="expired"):
        auth.handle_callback({**query, "state": [old]})
    assert not auth.is_signed_in()


def test_state_from_another_app_is_refused() -> None:
    state = sign_state(b"s", client_id="app-one", issued_at=1000, nonce="n")
    assert verify_state(state, b"s", client_id="app-one", ttl_s=600, now=1010) == "n"
    with pytest.raises(AuthError):
        verify_state(state, b"s", client_id="app-two", ttl_s=600, now=1010)


def test_pkce_verifier_never_travels_in_a_url_and_is_used_once(fake: FakeSpotify, verifiers) -> None:
    auth = SpotifyAuth(auth_config(fake, pkce=True), {}, verifiers=verifiers)
    url = auth.authorize_url()
    assert len(verifiers) == 1
    query = approve(fake, url, "alice")
    auth.handle_callback(query)
    auth.client().me()

    verifier = fake.requests_to("/api/token")[0].form["code_verifier"]
    assert len(verifier) >= 43
    assert all(verifier not in r.url for r in fake.requests)
    assert verifier not in url and verifier not in str(query)
    assert len(verifiers) == 0
    # The same redirect again (a replayed link) finds no verifier.
    replay = SpotifyAuth(auth_config(fake, pkce=True), {}, verifiers=verifiers)
    with pytest.raises(AuthError, match="already used or has expired"):
        replay.handle_callback(query)


def test_wrong_pkce_verifier_is_refused_by_the_server(fake: FakeSpotify, verifiers) -> None:
    auth = SpotifyAuth(auth_config(fake, pkce=True), {}, verifiers=verifiers)
    query = approve(fake, auth.authorize_url(), "alice")
    nonce = query["state"][0].split(".")[2]
    verifiers.pop(nonce)
    verifiers.put(nonce, "x" * 64, ttl_s=60)
    with pytest.raises(AuthError, match="code_verifier was incorrect"):
        auth.handle_callback(query)


def test_cancelled_sign_in_says_so(fake: FakeSpotify, verifiers) -> None:
    import requests

    auth = SpotifyAuth(auth_config(fake), {}, verifiers=verifiers)
    deny = auth.authorize_url().replace("/authorize?", "/authorize/deny?", 1)
    back = requests.get(deny, allow_redirects=False, timeout=5)
    query = parse_qs(urlsplit(back.headers["Location"]).query)
    assert SpotifyAuth.is_callback(query)
    with pytest.raises(AuthError, match="cancelled"):
        auth.handle_callback(query)


def test_wrong_client_secret_is_a_clear_error(fake: FakeSpotify, verifiers) -> None:
    auth = SpotifyAuth(auth_config(fake, client_secret="wrong"), {}, verifiers=verifiers)
    with pytest.raises(AuthError, match="Invalid client secret") as info:
        auth.handle_callback(approve(fake, auth.authorize_url(), "alice"))
    assert "wrong" not in str(info.value)


def test_token_refresh_when_the_server_says_401(fake: FakeSpotify, signed_in) -> None:
    session: dict = {}
    auth = signed_in("alice", session=session)
    old = session[TOKEN_KEY]["access_token"]
    assert fake.expire_access_tokens("alice") == 1

    assert auth.client().me()["id"] == "alice"

    assert session[TOKEN_KEY]["access_token"] != old
    assert session[TOKEN_KEY]["refresh_token"]  # kept although the refresh response omits it
    me_calls = fake.requests_to("/v1/me")
    assert [r.status for r in me_calls] == [401, 200]
    assert fake.requests_to("/api/token")[-1].form["grant_type"] == "refresh_token"


def test_pkce_refresh_before_expiry_rotates_the_refresh_token(fake: FakeSpotify, signed_in) -> None:
    session: dict = {}
    auth = signed_in("bob", pkce=True, session=session)
    first_refresh = session[TOKEN_KEY]["refresh_token"]
    session[TOKEN_KEY] = {**session[TOKEN_KEY], "expires_at": int(time.time()) + 10}  # inside spotipy's 60 s margin

    assert auth.client().me()["id"] == "bob"

    assert session[TOKEN_KEY]["refresh_token"] != first_refresh
    assert [r.status for r in fake.requests_to("/v1/me")] == [200]  # refreshed before calling


def test_revoked_refresh_token_signs_the_session_out(fake: FakeSpotify, signed_in) -> None:
    session: dict = {}
    auth = signed_in("alice", session=session)
    fake.revoke_refresh(session[TOKEN_KEY]["refresh_token"])
    fake.expire_access_tokens("alice")
    with pytest.raises(AuthError, match="sign in again"):
        auth.client().me()
    assert not auth.is_signed_in()


def test_no_token_never_prompts(fake: FakeSpotify) -> None:
    auth = SpotifyAuth(auth_config(fake), {})
    with pytest.raises(AuthError, match="not signed in"):
        auth.client()
    # Even a client built around the bare manager must raise, not call input().
    from spotify.client import make_client

    with pytest.raises(AuthError, match="not signed in"):
        make_client(auth.manager, api_base=fake.api_base).me()


def test_config_from_settings_maps_fields_and_hides_secrets(settings) -> None:
    cfg = AuthConfig.from_settings(settings.with_overrides(spotify_client_id="cid",
                                                           spotify_client_secret="topsecret"))
    assert (cfg.client_id, cfg.redirect_uri, cfg.uses_pkce) == ("cid", "http://127.0.0.1:8501/", False)
    assert "topsecret" not in repr(cfg) and "test-secret" not in repr(cfg)
    assert AuthConfig.from_settings(settings).uses_pkce


def test_verifier_store_expires_and_is_bounded() -> None:
    now = [100.0]
    store = PendingVerifiers(max_entries=2, clock=lambda: now[0])
    store.put("a", "va", ttl_s=10)
    store.put("b", "vb", ttl_s=10)
    store.put("c", "vc", ttl_s=10)
    assert len(store) == 2 and store.pop("a") is None
    now[0] = 111.0
    assert store.pop("b") is None and store.pop("c") is None


def test_localhost_redirect_uri_gets_a_clear_message(fake: FakeSpotify) -> None:
    auth = SpotifyAuth(auth_config(fake, redirect_uri="http://localhost:8501/"), {})
    with pytest.raises(AuthError, match="127.0.0.1"):
        auth.authorize_url()


def test_spotipy_debug_logs_never_carry_secrets(fake: FakeSpotify, signed_in, caplog) -> None:
    import logging

    with caplog.at_level(logging.DEBUG):
        session: dict = {}
        auth = signed_in("alice", session=session)
        fake.expire_access_tokens("alice")
        auth.client().me()
    text = caplog.text
    assert "spotipy" in text or caplog.records  # logging was on
    for secret in ("fake-client-secret", session[TOKEN_KEY]["access_token"], session[TOKEN_KEY]["refresh_token"]):
        assert secret not in text
    import base64

    assert base64.b64encode(b"fake-client-id:fake-client-secret").decode() not in text
