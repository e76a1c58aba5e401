"""The parallel history read gives exactly the sequential one, keeps its error rules, shares no Session.

Real spotipy clients against the local fake Spotify; the sequential reference is
``fetch_history(..., max_workers=1)`` on the same fake.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, MutableMapping
from datetime import UTC, datetime
from typing import Any

import pytest

import spotify.history as history_module
from spotify.auth import TOKEN_KEY
from spotify.errors import SpotifyRefused
from spotify.fanout import MAX_WORKERS, run_all, worker_client
from spotify.history import History, fetch_history, fetch_profile_and_history
from tests.fake_spotify import FakeSpotify
from tests.spotify.test_history import client_for


def _now(fake: FakeSpotify) -> datetime:
    return datetime.fromtimestamp(fake.seed.users["alice"].recent[0].played_at_ms / 1000, tz=UTC)


def _both(fake: FakeSpotify, sp: Any, **kwargs: Any) -> tuple[History, History]:
    sequential = fetch_history(sp, now=_now(fake), max_workers=1, **kwargs)
    parallel = fetch_history(sp, now=_now(fake), **kwargs)
    return sequential, parallel


def test_parallel_history_is_the_sequential_one(fake: FakeSpotify) -> None:
    sp = client_for(fake, "alice")
    sequential, parallel = _both(fake, sp, page_size=20)
    assert parallel == sequential  # every item, field by field, in the same order; counts and warnings
    assert [i.track_id for i in parallel] == [i.track_id for i in sequential]
    assert parallel.counts == {"top_short_term": 25, "top_medium_term": 60, "top_long_term": 99,
                               "recent": 50, "saved": 220}
    # Both read every page: 2+3+5 top, 3 recent, 11 saved pages of 20, twice.
    assert len(fake.requests_to("/v1/me/top/tracks")) == 2 * 10
    assert len(fake.requests_to("/v1/me/tracks")) == 2 * 11


def test_sources_really_run_at_once_on_their_own_sessions(fake: FakeSpotify) -> None:
    """Five reads meet at a barrier: a sequential run would never get past it."""
    sp = client_for(fake, "alice")
    barrier = threading.Barrier(MAX_WORKERS, timeout=30)
    seen: list[tuple[int, int]] = []
    lock = threading.Lock()

    def read(client: Any) -> str:
        barrier.wait()
        with lock:
            seen.append((id(client), id(client._session)))
        return str(client.me()["id"])

    assert run_all(sp, [read] * MAX_WORKERS) == ["alice"] * MAX_WORKERS
    assert len({c for c, _ in seen}) == len({s for _, s in seen}) == MAX_WORKERS
    assert id(sp) not in {c for c, _ in seen} and id(sp._session) not in {s for _, s in seen}


def test_more_reads_than_workers_never_exceed_the_bound(fake: FakeSpotify) -> None:
    sp = client_for(fake, "alice")
    running = peak = 0
    lock = threading.Lock()

    def read(client: Any) -> int:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        try:
            return len(client.current_user_saved_tracks(limit=5)["items"])
        finally:
            with lock:
                running -= 1

    assert run_all(sp, [read] * 12, max_workers=50) == [5] * 12
    assert 1 <= peak <= MAX_WORKERS


def test_a_refused_source_still_yields_the_others(fake: FakeSpotify) -> None:
    sp = client_for(fake, "alice")
    sequential = fetch_history(sp, now=_now(fake), max_workers=1)
    fake.fail_next(1, 403, path_prefix="/v1/me/player/recently-played")
    sequential_403 = fetch_history(sp, now=_now(fake), max_workers=1)
    fake.fail_next(1, 403, path_prefix="/v1/me/player/recently-played")
    parallel_403 = fetch_history(sp, now=_now(fake))

    assert parallel_403 == sequential_403
    assert parallel_403.counts == {**sequential.counts, "recent": 0}
    assert parallel_403.warnings == ("Spotify did not allow reading your recently played tracks "
                                     "(permission missing); sign out and in again to grant it.",)
    assert all("recent" not in i.sources for i in parallel_403)
    assert len(parallel_403) > 0


def test_three_refused_ranges_give_one_warning_as_before(fake: FakeSpotify) -> None:
    sp = client_for(fake, "alice", scope="user-library-read")  # no top, no recently played
    sequential, parallel = _both(fake, sp)
    assert parallel == sequential
    assert len(parallel.warnings) == 2 and parallel.counts["saved"] == 220


def test_other_errors_still_raise_and_the_first_source_in_order_wins(fake: FakeSpotify) -> None:
    sp = client_for(fake, "alice")
    fake.fail_next(1, 404, path_prefix="/v1/me/tracks")
    with pytest.raises(SpotifyRefused) as sequential:
        fetch_history(sp, max_workers=1)
    fake.clear_requests()
    fake.fail_next(1, 404, path_prefix="/v1/me/tracks")
    with pytest.raises(SpotifyRefused) as parallel:
        fetch_history(sp)
    assert parallel.value.status == sequential.value.status == 404
    assert str(parallel.value) == str(sequential.value)

    # Saved tracks (last in order) and recently played (fourth) both fail: the recent error is raised.
    fake.fail_next(1, 404, path_prefix="/v1/me/tracks")
    fake.fail_next(1, 400, path_prefix="/v1/me/player/recently-played")
    with pytest.raises(SpotifyRefused) as both:
        fetch_history(sp)
    assert both.value.status == 400


@pytest.mark.parametrize("page_size, max_saved", [(20, 1000), (50, 1000), (20, 100), (7, 61)])
def test_pages_read_by_offset_are_the_pages_next_links_give(fake: FakeSpotify, page_size: int, max_saved: int) -> None:
    """Every source's items, read as first pages then later pages side by side by offset, equal
    what following ``next`` page after page gives (the fetchers below), caps included."""
    sp = client_for(fake, "alice")
    got = history_module._read_sources(sp, [], page_size=page_size, max_saved=max_saved, max_workers=MAX_WORKERS)
    want = [*(history_module.fetch_top_tracks(sp, r, page_size=page_size) for r in history_module.TIME_RANGES),
            history_module.fetch_recently_played(sp, page_size=page_size),
            history_module.fetch_saved_tracks(sp, page_size=page_size, max_items=max_saved)]
    assert got == want and len(got[-1]) == min(220, max_saved)


def test_later_saved_pages_are_read_side_by_side(fake: FakeSpotify, monkeypatch: pytest.MonkeyPatch) -> None:
    """Three later pages of the saved tracks meet at a barrier: page after page never would."""
    sp = client_for(fake, "alice")
    barrier = threading.Barrier(3, timeout=30)
    saved_read = history_module._saved_read

    def meeting(client: Any, *, page_size: int, offset: int = 0) -> Any:
        if offset in (20, 40, 60):
            barrier.wait()
        return saved_read(client, page_size=page_size, offset=offset)

    monkeypatch.setattr(history_module, "_saved_read", meeting)
    assert fetch_history(sp, now=_now(fake), page_size=20).counts["saved"] == 220


def test_a_failed_later_page_fails_its_source_only(fake: FakeSpotify, monkeypatch: pytest.MonkeyPatch) -> None:
    """A later saved page refused (403) drops the saved tracks with the warning, as when the
    sequential read stopped there; the other sources are whole."""
    sp = client_for(fake, "alice")
    saved_read = history_module._saved_read

    def refusing(client: Any, *, page_size: int, offset: int = 0) -> Any:
        if offset == 100:
            raise SpotifyRefused(status=403)
        return saved_read(client, page_size=page_size, offset=offset)

    monkeypatch.setattr(history_module, "_saved_read", refusing)
    got = fetch_history(sp, now=_now(fake), page_size=20)
    assert got.counts["saved"] == 0 and got.counts["top_long_term"] == 99 and got.counts["recent"] == 50
    assert any("saved tracks" in w for w in got.warnings)


def test_profile_and_history_are_the_sequential_reads(fake: FakeSpotify) -> None:
    """One fan-out gives what ``sp.me()`` then the sequential history give, with one profile read."""
    sp = client_for(fake, "alice")
    want_profile, want = sp.me(), fetch_history(sp, now=_now(fake), max_workers=1)
    fake.clear_requests()
    profile, got = fetch_profile_and_history(sp, now=_now(fake))
    assert profile == want_profile and profile["id"] == "alice"
    assert got == want and [i.track_id for i in got] == [i.track_id for i in want]
    assert len([r for r in fake.requests if r.path.rstrip("/") == "/v1/me"]) == 1


def test_the_profile_is_read_beside_the_history_not_before(fake: FakeSpotify, monkeypatch: pytest.MonkeyPatch) -> None:
    """The profile read and the recently-played read meet at a barrier: had the profile been
    read before (or after) the history, neither would get past it."""
    sp = client_for(fake, "alice")
    barrier = threading.Barrier(2, timeout=30)
    me_read, recent_read = history_module._me_read, history_module._recent_read

    def meeting(read: Any) -> Any:
        def wrapped(client: Any, **kwargs: Any) -> Any:
            barrier.wait()
            return read(client, **kwargs)
        return wrapped

    monkeypatch.setattr(history_module, "_me_read", meeting(me_read))
    monkeypatch.setattr(history_module, "_recent_read", meeting(recent_read))
    profile, got = fetch_profile_and_history(sp, now=_now(fake))
    assert profile["id"] == "alice" and got.counts["recent"] == 50


def test_a_failed_profile_read_raises_first(fake: FakeSpotify, monkeypatch: pytest.MonkeyPatch) -> None:
    """As when the profile was read first: its error wins over a failing source's."""
    sp = client_for(fake, "alice")

    def refused(client: Any) -> Any:
        raise SpotifyRefused(status=403)

    monkeypatch.setattr(history_module, "_me_read", refused)
    fake.fail_next(1, 404, path_prefix="/v1/me/tracks")
    with pytest.raises(SpotifyRefused) as raised:
        fetch_profile_and_history(sp)
    assert raised.value.status == 403
    monkeypatch.undo()
    fake.fail_next(1, 404, path_prefix="/v1/me/tracks")
    with pytest.raises(SpotifyRefused) as source:  # the profile read: the history's own rules hold
        fetch_profile_and_history(sp)
    assert source.value.status == 404


class _ThreadRecordingSession(dict[str, Any]):
    """A session mapping (``st.session_state`` in the app) that notes which threads touch it."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: set[str] = set()

    def _touch(self) -> None:
        self.threads.add(threading.current_thread().name)

    def get(self, key: str, default: Any = None) -> Any:
        self._touch()
        return super().get(key, default)

    def __getitem__(self, key: str) -> Any:
        self._touch()
        return super().__getitem__(key)

    def __setitem__(self, key: str, value: Any) -> None:
        self._touch()
        super().__setitem__(key, value)

    def __iter__(self) -> Iterator[str]:
        self._touch()
        return super().__iter__()


def test_signed_in_listener_expired_token_refreshes_in_the_callers_thread(fake: FakeSpotify, signed_in) -> None:
    """Workers get 401 with the stale token; each source is read again on the caller's client."""
    session = _ThreadRecordingSession()
    auth = signed_in("alice", session=session)
    assert isinstance(session, MutableMapping)
    reference = fetch_history(auth.client(), now=_now(fake), max_workers=1)
    old = session[TOKEN_KEY]["access_token"]
    session.threads.clear()
    fake.clear_requests()
    assert fake.expire_access_tokens("alice") == 1

    parallel = fetch_history(auth.client(), now=_now(fake))

    assert parallel == reference
    assert session[TOKEN_KEY]["access_token"] != old
    assert session.threads == {threading.current_thread().name}  # never read from a worker thread
    assert [r.form["grant_type"] for r in fake.requests_to("/api/token")] == ["refresh_token"]
    assert all(r.status in (200, 401) for r in fake.requests_to("/v1/me/"))


def test_worker_client_keeps_the_settings_but_not_the_auth_manager(fake: FakeSpotify, signed_in) -> None:
    sp = signed_in("alice").client(max_total_wait=1.5)
    worker = worker_client(sp, "a-token")
    assert worker.prefix == sp.prefix and worker.max_total_wait == 1.5
    assert worker.requests_timeout == sp.requests_timeout and worker.status_retries == sp.status_retries
    assert worker.auth_manager is None and sp.auth_manager is not None
    assert worker._session is not sp._session
    assert worker._auth_headers() == {"Authorization": "Bearer a-token"}
