"""Sign-in against the fake Spotify with the real spotipy: both flows, isolation, state, binding, PKCE, refresh."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from spotify.auth import (
    NONCE_KEY,
    PENDING_KEY,
    SCOPES,
    TOKEN_KEY,
    AuthConfig,
    SeenNonces,
    SpotifyAuth,
    redirect_problem,
    sign_state,
    verify_state,
)
from spotify.errors import AuthError
from tests.fake_spotify import FakeSpotify
from tests.spotify.conftest import CLIENT_ID, STATE_SECRET, approve, auth_config

ROOT = Path(__file__).resolve().parents[2]
NONCE = "n0nce-of-sixteen-chars"


@pytest.mark.parametrize("pkce", [False, True], ids=["client-secret", "pkce"])
def test_full_sign_in_reaches_me(fake: FakeSpotify, seen: SeenNonces, pkce: bool) -> None:
    session: dict = {}
    auth = SpotifyAuth(auth_config(fake, pkce=pkce), session, seen=seen)
    assert not auth.is_signed_in()
    url = auth.authorize_url()
    query = parse_qs(urlsplit(url).query)
    assert url.startswith(fake.accounts_base + "/authorize?")
    assert query["redirect_uri"] == ["http://127.0.0.1:8501/"]
    assert set(query["scope"][0].split()) == set(SCOPES)
    assert ("code_challenge" in query) is pkce

    assert auth.handle_callback(approve(fake, url, "bob")) is True  # the session that started it

    assert auth.is_signed_in() and session[TOKEN_KEY]["access_token"]
    assert NONCE_KEY not in session  # used: the next sign-in of this session gets a new nonce
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


def test_forged_state_is_refused(fake: FakeSpotify, seen: SeenNonces) -> None:
    auth = SpotifyAuth(auth_config(fake), {}, seen=seen)
    query = approve(fake, auth.authorize_url(), "alice")
    forged = sign_state(b"attacker's secret", client_id="fake-client-id", issued_at=int(time.time()),
                        nonce=auth.binding_nonce())
    for state in (forged, "v2.123.abc", "not-a-state", query["state"][0][:-2] + "xx",
                  query["state"][0].replace("v2.", "v1.", 1)):
        with pytest.raises(AuthError, match="could not be verified"):
            auth.handle_callback({**query, "state": [state]})
    assert not auth.is_signed_in()
    assert fake.requests_to("/api/token") == []  # refused before any code exchange


def test_expired_state_is_refused(fake: FakeSpotify, seen: SeenNonces) -> None:
    auth = SpotifyAuth(auth_config(fake), {}, seen=seen)
    query = approve(fake, auth.authorize_url(), "alice")
    old = sign_state(STATE_SECRET.encode(), client_id="fake-client-id",
                     issued_at=int(time.time()) - 3600, nonce=auth.binding_nonce())
    with pytest.raises(AuthError, match="expired"):
        auth.handle_callback({**query, "state": [old]})
    assert not auth.is_signed_in()


def test_state_from_another_app_is_refused() -> None:
    state = sign_state(b"s", client_id="app-one", issued_at=1000, nonce=NONCE)
    assert verify_state(state, b"s", client_id="app-one", ttl_s=600, now=1010) == NONCE
    with pytest.raises(AuthError):
        verify_state(state, b"s", client_id="app-two", ttl_s=600, now=1010)


def test_pkce_verifier_never_travels_in_a_url_and_a_replay_is_refused(fake: FakeSpotify, seen) -> None:
    session: dict = {}
    auth = SpotifyAuth(auth_config(fake, pkce=True), session, seen=seen)
    url = auth.authorize_url()
    query = approve(fake, url, "alice")
    assert auth.handle_callback(query)
    auth.client().me()

    verifier = fake.requests_to("/api/token")[0].form["code_verifier"]
    assert len(verifier) >= 43
    assert all(verifier not in r.url for r in fake.requests)
    assert verifier not in url and verifier not in str(query) and verifier not in str(session)
    # The same redirect again (a replayed link, even in a fresh session) is refused before Spotify.
    replay = SpotifyAuth(auth_config(fake, pkce=True), {}, seen=seen)
    with pytest.raises(AuthError, match="already used"):
        replay.handle_callback(query)
    assert len(fake.requests_to("/api/token")) == 1


def test_wrong_pkce_verifier_is_refused_by_the_server(fake: FakeSpotify, seen) -> None:
    auth = SpotifyAuth(auth_config(fake, pkce=True), {}, seen=seen)
    url = auth.authorize_url()
    challenge = parse_qs(urlsplit(url).query)["code_challenge"][0]
    query = approve(fake, url.replace(challenge, "x" * 43), "alice")  # the code is bound to another challenge
    with pytest.raises(AuthError, match="code_verifier was incorrect"):
        auth.handle_callback(query)
    assert not auth.is_signed_in()


def test_a_forwarded_link_never_signs_in_silently(fake: FakeSpotify, seen: SeenNonces) -> None:
    # The attacker starts a sign-in, approves it as themselves and sends the redirect to a victim.
    attacker = SpotifyAuth(auth_config(fake, pkce=True), {}, seen=seen)
    query = approve(fake, attacker.authorize_url(), "bob")
    victim_session: dict = {}
    victim = SpotifyAuth(auth_config(fake, pkce=True), victim_session, seen=seen)
    victim.binding_nonce()  # the victim's own sign-in link was on screen: another nonce
    other_cookie = SpotifyAuth(auth_config(fake), {}, seen=seen).binding_nonce()

    assert victim.handle_callback(query, browser_nonce=other_cookie) is False

    assert not victim.is_signed_in() and TOKEN_KEY not in victim_session
    assert victim.pending_account() == {"id": "bob", "display_name": "Bob Berg"}
    with pytest.raises(AuthError, match="not signed in"):
        victim.client()
    victim.discard_pending()  # "Not me"
    assert victim.pending_account() is None and PENDING_KEY not in victim_session
    assert not victim.is_signed_in()


def test_an_unbound_sign_in_is_used_only_once_confirmed(fake: FakeSpotify, seen: SeenNonces) -> None:
    started = SpotifyAuth(auth_config(fake), {}, seen=seen)
    query = approve(fake, started.authorize_url(), "alice")
    session: dict = {TOKEN_KEY: {"access_token": "an earlier sign-in", "expires_at": 0}}
    fresh = SpotifyAuth(auth_config(fake), session, seen=seen)
    assert fresh.handle_callback(query) is False
    assert session[TOKEN_KEY]["access_token"] == "an earlier sign-in"  # held back, nothing replaced
    fresh.confirm_pending()  # "Continue as Alice Andersson"
    assert fresh.client().me()["id"] == "alice" and fresh.pending_account() is None
    with pytest.raises(AuthError, match="no sign-in waiting"):
        fresh.confirm_pending()


def test_a_garbage_cookie_is_no_binding_and_no_crash(fake: FakeSpotify, seen: SeenNonces) -> None:
    started = SpotifyAuth(auth_config(fake), {}, seen=seen)
    query = approve(fake, started.authorize_url(), "alice")
    landed = SpotifyAuth(auth_config(fake), {}, seen=seen)
    assert landed.handle_callback(query, browser_nonce="ünïcode; not a nonce") is False
    assert not landed.is_signed_in() and landed.pending_account()


def test_the_browser_cookie_binds_a_callback_in_a_new_session(fake: FakeSpotify, seen: SeenNonces) -> None:
    # Spotify's redirect opens a new session; the cookie the link's click wrote carries the nonce.
    started = SpotifyAuth(auth_config(fake, pkce=True), {}, seen=seen)
    url = started.authorize_url()
    cookie = started.binding_nonce()
    query = approve(fake, url, "alice")
    landed = SpotifyAuth(auth_config(fake, pkce=True), {}, seen=seen)
    assert landed.handle_callback(query, browser_nonce=cookie) is True
    assert landed.client().me()["id"] == "alice"
    assert AuthConfig(client_id="c", redirect_uri="https://app.example/").binding_cookie == "__Host-spotify_signin"
    assert AuthConfig(client_id="c").binding_cookie == "spotify_signin"


def test_anonymous_reruns_cannot_evict_a_pending_sign_in(fake: FakeSpotify, seen: SeenNonces) -> None:
    session: dict = {}
    auth = SpotifyAuth(auth_config(fake, pkce=True), session, seen=seen)
    url = auth.authorize_url()
    flood = SpotifyAuth(auth_config(fake, pkce=True), {}, seen=seen)
    for _ in range(20_000):  # twice what evicted a pending sign-in before
        flood.cache.session.clear()
        flood.authorize_url()
    for _ in range(100):  # and this session's own reruns keep its one nonce
        assert auth.authorize_url() and auth.binding_nonce() == session[NONCE_KEY]
    assert len(seen) == 0  # nothing process-wide grew
    assert auth.handle_callback(approve(fake, url, "alice"))
    assert auth.client().me()["id"] == "alice"


_START_IN_ANOTHER_PROCESS = """
import json, sys
from spotify.auth import AuthConfig, SpotifyAuth
cfg = json.loads(sys.argv[1])
session = {}
print(SpotifyAuth(AuthConfig(**cfg), session).authorize_url())
"""


@pytest.mark.parametrize("secret", [STATE_SECRET, ""], ids=["APP_STATE_SECRET", "no-secret"])
def test_pkce_sign_in_started_by_another_process(fake: FakeSpotify, seen: SeenNonces, secret: str) -> None:
    # A restart or a replica: the process that finishes the sign-in never saw it start.
    cfg = dict(client_id=CLIENT_ID, state_secret=secret, api_base=fake.api_base, accounts_base=fake.accounts_base)
    url = subprocess.run([sys.executable, "-c", _START_IN_ANOTHER_PROCESS, json.dumps(cfg)], cwd=ROOT,
                         env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, text=True,
                         check=True, timeout=120).stdout.strip()
    query = approve(fake, url, "alice")
    auth = SpotifyAuth(AuthConfig(**cfg, max_total_wait_s=2.0), {}, seen=seen)
    nonce = verify_state(query["state"][0], STATE_SECRET.encode(), client_id=CLIENT_ID, ttl_s=600,
                         now=time.time()) if secret else None
    if secret:
        assert auth.handle_callback(query, browser_nonce=nonce) is True
        assert auth.client().me()["id"] == "alice"
    else:  # the other process's random secret: unverifiable here, refused before any exchange
        with pytest.raises(AuthError, match="could not be verified"):
            auth.handle_callback(query)
        assert not fake.requests_to("/api/token")


def test_cancelled_sign_in_says_so(fake: FakeSpotify, seen) -> None:
    auth = SpotifyAuth(auth_config(fake), {}, seen=seen)
    deny = auth.authorize_url().replace("/authorize?", "/authorize/deny?", 1)
    back = requests.get(deny, allow_redirects=False, timeout=5)
    query = parse_qs(urlsplit(back.headers["Location"]).query)
    assert SpotifyAuth.is_callback(query)
    with pytest.raises(AuthError, match="cancelled"):
        auth.handle_callback(query)


def test_wrong_client_secret_is_a_clear_error(fake: FakeSpotify, seen) -> None:
    auth = SpotifyAuth(auth_config(fake, client_secret="wrong"), {}, seen=seen)
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


def test_error_text_is_shown_only_after_the_state_checks_and_only_as_a_known_code(fake: FakeSpotify) -> None:
    auth = SpotifyAuth(auth_config(fake), {})
    good = parse_qs(urlsplit(auth.authorize_url()).query)["state"][0]
    evil = "<b>Call +1-555 now</b> ![x](http://evil.invalid/p.png)"
    with pytest.raises(AuthError, match="could not be verified") as forged:
        auth.handle_callback({"error": evil, "state": "v2.1.made-up-nonce-xx.sig"})
    with pytest.raises(AuthError) as unknown:
        auth.handle_callback({"error": evil, "state": good})
    with pytest.raises(AuthError, match=r"\(server_error\)"):
        auth.handle_callback({"error": "server_error", "state": good})
    for info in (forged, unknown):
        assert "evil" not in str(info.value) and "555" not in str(info.value)
    assert str(unknown.value) == "Spotify did not complete the sign-in; please try again."


def test_seen_nonces_expire_and_are_bounded() -> None:
    now = [100.0]
    seen = SeenNonces(max_entries=2, clock=lambda: now[0])
    for nonce in ("a", "b", "c"):
        seen.add(nonce, ttl_s=10)
    assert len(seen) == 2 and "a" not in seen and "b" in seen and "c" in seen
    now[0] = 111.0
    assert "b" not in seen and "c" not in seen


@pytest.mark.parametrize("uri", ["http://localhost:8501/", "http://example.com/", "ftp://127.0.0.1/"])
def test_a_redirect_uri_spotify_refuses_gets_a_sentence(fake: FakeSpotify, uri: str) -> None:
    auth = SpotifyAuth(auth_config(fake, redirect_uri=uri), {})
    with pytest.raises(AuthError, match="SPOTIFY_REDIRECT_URI") as info:
        auth.authorize_url()
    assert uri.rstrip("/") in str(info.value) and str(info.value) == redirect_problem(uri)
    assert "127.0.0.1:8501/" in (redirect_problem("http://localhost:8501/") or "")
    assert redirect_problem("http://127.0.0.1:8501/") is None and redirect_problem("https://a.example/") is None
    assert redirect_problem("http://[::1]:8501/") is None


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
