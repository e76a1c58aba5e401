"""Run independent Spotify reads at once, each on its own client, with the same token.

Why one client per worker and not one shared client: a ``spotipy.Spotify`` sends every request
through one ``requests.Session`` (``self._session``), and requests does not promise that a Session
is thread-safe (psf/requests#2766: its cookie jar and adapter set-up are plain shared state; the
maintainers' advice is one Session per thread). So each worker gets a shallow copy of the
caller's client (same API base, timeouts, retry and ``Retry-After`` bounds of
:class:`~spotify.client.BoundedSpotify`) with a Session of its own.

Why a fixed token and no auth manager on the copies: the caller's auth manager reads and writes
its token through a cache handler that, in the app, is the visitor's ``st.session_state``, which
is only reachable from the script's own thread. So the token is resolved once, in the calling
thread, exactly as the next sequential request would (spotipy's ``_auth_headers``, which
refreshes a token about to expire; no new sign-in), and the copies carry it as a fixed token.
A copy that is answered 401 therefore cannot refresh: it raises
:class:`~spotify.errors.SpotifyRefused` with status 401, and :func:`run_all` runs that read once
more on the caller's client, in the caller's thread, where the refresh-and-retry of
:class:`~spotify.client.BoundedSpotify` applies as before.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

import spotipy
from spotipy.exceptions import SpotifyOauthError

from spotify.errors import SpotifyRefused

logger = logging.getLogger(__name__)

#: Spotify rate-limits per app over a rolling window; five requests in flight at most.
MAX_WORKERS = 5

T = TypeVar("T")


def fixed_token(client: spotipy.Spotify) -> str | None:
    """The bearer token ``client``'s next request would send (refreshing it if due); None if it has none.

    (No Web API request: at most the token refresh that request would have made first.)
    """
    try:
        header = client._auth_headers().get("Authorization", "")
    except SpotifyOauthError:
        return None  # the caller's own client will raise the AuthError the listener should see
    prefix = "Bearer "
    token = header[len(prefix):] if header.startswith(prefix) else ""
    return token if token and token != "None" else None


def worker_client(sp: spotipy.Spotify, token: str) -> spotipy.Spotify:
    """A copy of ``sp`` with its own requests Session and the fixed ``token`` (no auth manager)."""
    worker = copy.copy(sp)  # every setting: prefix, timeouts, retry bounds, language, proxies
    worker._auth = token
    worker.auth_manager = None  # spotipy's setter: falls back to the (absent) legacy managers
    worker._build_session()  # replaces the shared Session reference on the copy only
    return worker


def close_client(sp: spotipy.Spotify) -> None:
    """Close a worker client's Session (its pooled connections) now rather than at garbage collection."""
    session = getattr(sp, "_session", None)
    close = getattr(session, "close", None)
    if callable(close):
        close()


def run_all(sp: spotipy.Spotify, reads: Sequence[Callable[[spotipy.Spotify], T]], *,
            max_workers: int = MAX_WORKERS) -> list[T | BaseException]:
    """Run every ``read(client)`` and return its result or the exception it raised, in ``reads`` order.

    With ``max_workers <= 1`` (or when ``sp`` has no token to share) the reads run one after
    another on ``sp`` itself, in this thread: the sequential reference. Otherwise at most
    ``min(max_workers, MAX_WORKERS)`` run at once, each on a :func:`worker_client`; a read whose
    copy was answered 401 runs again on ``sp`` (see the module docstring). Nothing is raised
    here: the caller decides, in order, which exception matters.
    """
    token = fixed_token(sp) if max_workers > 1 and len(reads) > 1 else None
    if token is None:
        return [_outcome(read, sp) for read in reads]
    workers = [worker_client(sp, token) for _ in reads]
    try:
        with ThreadPoolExecutor(max_workers=min(max_workers, MAX_WORKERS, len(reads)),
                                thread_name_prefix="spotify-read") as pool:
            futures: list[Future[T]] = [pool.submit(read, w) for read, w in zip(reads, workers, strict=True)]
            outcomes: list[T | BaseException] = [f.exception() or f.result() for f in futures]
    finally:
        for worker in workers:
            close_client(worker)
    for i, outcome in enumerate(outcomes):
        if isinstance(outcome, SpotifyRefused) and outcome.status == 401:
            logger.info("A parallel Spotify read was answered 401; reading it again with a token refresh")
            outcomes[i] = _outcome(reads[i], sp)
    return outcomes


def _outcome(read: Callable[[spotipy.Spotify], T], sp: spotipy.Spotify) -> T | BaseException:
    try:
        return read(sp)
    except Exception as exc:  # noqa: BLE001 - handed back to the caller, which re-raises what it must
        return exc

