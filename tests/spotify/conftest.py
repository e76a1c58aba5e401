"""Fixtures for the Spotify tests: a fresh fake Spotify per test, sign-in helpers.

The fake uses its generated catalogue here (no dependency on ../shared/data), so every number
the tests assert comes from the seed, not from a data file that may change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from spotify.auth import AuthConfig, SeenNonces, SpotifyAuth
from tests.fake_spotify import FakeSpotify

CLIENT_ID = "fake-client-id"
CLIENT_SECRET = "fake-client-secret"
STATE_SECRET = "test-state-secret"


@pytest.fixture()
def fake() -> Iterator[FakeSpotify]:
    with FakeSpotify(catalogue=None) as server:
        yield server


def auth_config(fake: FakeSpotify, *, pkce: bool = False, **overrides: Any) -> AuthConfig:
    values: dict[str, Any] = dict(
        client_id=CLIENT_ID, client_secret="" if pkce else CLIENT_SECRET, state_secret=STATE_SECRET,
        api_base=fake.api_base, accounts_base=fake.accounts_base, max_total_wait_s=2.0)
    values.update(overrides)
    return AuthConfig(**values)


def approve(fake: FakeSpotify, authorize_url: str, user: str) -> dict[str, list[str]]:
    """Play the browser: open the consent page, agree as ``user``, return the redirect's query."""
    consent = requests.get(authorize_url, allow_redirects=False, timeout=5)
    assert consent.status_code == 200, consent.text
    approve_url = authorize_url.replace("/authorize?", "/authorize/approve?", 1) + f"&user={user}"
    back = requests.get(approve_url, allow_redirects=False, timeout=5)
    assert back.status_code == 302, back.text
    location = back.headers["Location"]
    assert location.startswith("http://127.0.0.1:8501/?")
    return parse_qs(urlsplit(location).query)


@pytest.fixture()
def seen() -> SeenNonces:
    """A used-nonce record private to the test (the app uses the process-wide one)."""
    return SeenNonces()


@pytest.fixture()
def signed_in(fake: FakeSpotify, seen: SeenNonces) -> Callable[..., SpotifyAuth]:
    """``signed_in(user, pkce=False)`` -> a SpotifyAuth whose session completed sign-in as ``user``."""

    def sign_in(user: str = "alice", *, pkce: bool = False, session: dict[str, Any] | None = None,
                **overrides: Any) -> SpotifyAuth:
        auth = SpotifyAuth(auth_config(fake, pkce=pkce, **overrides), {} if session is None else session,
                           seen=seen)
        assert auth.handle_callback(approve(fake, auth.authorize_url(), user))  # the session that started it
        return auth

    return sign_in
