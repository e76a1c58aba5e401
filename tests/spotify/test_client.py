"""The client's 429/5xx policy against the fake: honour Retry-After within a bound, then a clear error."""

from __future__ import annotations

import socket
import time
from email.utils import formatdate

import pytest
import requests

from spotify.client import make_client, parse_retry_after
from spotify.errors import SpotifyRefused, SpotifyUnavailable
from tests.fake_spotify import FakeSpotify


def token_client(fake: FakeSpotify, *, waits: list[float] | None = None, **kwargs):
    token = requests.get(f"{fake.base_url}/_test/token", params={"user": "alice"}, timeout=5).json()
    record = waits if waits is not None else []

    def sleep(seconds: float) -> None:  # really sleeps; records so the test can check the total
        record.append(seconds)
        time.sleep(seconds)

    return make_client(access_token=token["access_token"], api_base=fake.api_base, sleep=sleep, **kwargs)


def test_429_with_retry_after_is_retried_within_the_bound(fake: FakeSpotify) -> None:
    waits: list[float] = []
    sp = token_client(fake, waits=waits, max_total_wait=1.0)
    fake.fail_next(2, 429, retry_after=0.2)

    assert sp.me()["id"] == "alice"

    assert [r.status for r in fake.requests_to("/v1/me")] == [429, 429, 200]
    assert waits == [0.2, 0.2]


def test_whole_second_retry_after_as_spotify_sends_it(fake: FakeSpotify) -> None:
    waits: list[float] = []
    sp = token_client(fake, waits=waits, max_total_wait=5.0)
    fake.fail_next(1, 429, retry_after=1)
    assert sp.current_user_top_tracks(limit=5)["items"]
    assert waits == [1.0]


def test_too_long_retry_after_raises_the_clear_error_without_waiting(fake: FakeSpotify) -> None:
    waits: list[float] = []
    sp = token_client(fake, waits=waits, max_total_wait=5.0)
    fake.fail_next(1, 429, retry_after=3600)

    with pytest.raises(SpotifyUnavailable, match="try again in about 60 minutes") as info:
        sp.me()

    assert info.value.status == 429 and info.value.retry_after == 3600
    assert waits == []
    assert len(fake.requests_to("/v1/me")) == 1


def test_retries_stop_when_the_total_wait_would_exceed_the_bound(fake: FakeSpotify) -> None:
    waits: list[float] = []
    sp = token_client(fake, waits=waits, max_total_wait=0.5)
    fake.fail_next(10, 429, retry_after=0.2)
    with pytest.raises(SpotifyUnavailable):
        sp.me()
    assert waits == [0.2, 0.2]  # a third 0.2 s would pass 0.5 s
    assert len(fake.requests_to("/v1/me")) == 3


def test_5xx_is_retried_with_backoff_then_succeeds(fake: FakeSpotify) -> None:
    waits: list[float] = []
    sp = token_client(fake, waits=waits, backoff_factor=0.01)
    fake.fail_next(2, 503)
    assert sp.me()["id"] == "alice"
    assert waits == [0.01, 0.02]


def test_persistent_5xx_gives_a_sentence_after_the_retry_budget(fake: FakeSpotify) -> None:
    sp = token_client(fake, backoff_factor=0.01, status_retries=2)
    fake.fail_next(10, 500)
    with pytest.raises(SpotifyUnavailable, match=r"HTTP 500 after 3 tries"):
        sp.me()
    assert len(fake.requests_to("/v1/me")) == 3


def test_other_errors_become_spotify_refused_with_the_status(fake: FakeSpotify) -> None:
    sp = token_client(fake)
    with pytest.raises(SpotifyRefused) as info:
        sp.search("robyn", limit=11, type="track")  # the 2026 dev-mode limit is 10
    assert info.value.status == 400
    assert str(info.value) == "Spotify answered with an error (HTTP 400); please try again in a moment."
    fake.fail_next(1, 403, path_prefix="/v1/me")
    with pytest.raises(SpotifyRefused, match=r"refused access \(HTTP 403\)") as info:
        sp.me()
    assert info.value.status == 403
    with pytest.raises(SpotifyRefused, match="cannot use 'spotify:album:x' as a track id"):
        sp.track("spotify:album:x")  # refused by spotipy before any request: still ours


def test_unreachable_spotify_is_a_clear_error() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sp = make_client(access_token="x", api_base=f"http://127.0.0.1:{port}/v1/", connect_retries=0)
    with pytest.raises(SpotifyUnavailable, match="Could not reach Spotify"):
        sp.me()


def test_parse_retry_after_accepts_seconds_and_http_dates() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(" 0.5 ") == 0.5
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert parse_retry_after(formatdate(1_000_120, usegmt=True), now=1_000_000) == pytest.approx(120)
    assert parse_retry_after(formatdate(1_000_000, usegmt=True), now=1_000_500) == 0.0


def test_make_client_needs_credentials_and_sets_the_prefix(fake: FakeSpotify) -> None:
    with pytest.raises(ValueError):
        make_client()
    sp = make_client(access_token="t", api_base=fake.api_base.rstrip("/"))
    assert sp.prefix == fake.api_base
