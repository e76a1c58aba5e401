"""The spotipy client factory: API base overridable, bounded retries, user-facing errors.

Why not spotipy's own retries: spotipy 2.26 mounts a urllib3 ``Retry`` (3 status retries on
429/500/502/503/504) whose ``respect_retry_after_header`` makes urllib3 *sleep for whatever
``Retry-After`` says* — Spotify answers 429 with values from seconds to hours, which would freeze
a Streamlit page. urllib3 even retries 429/503 responses that carry ``Retry-After`` when the
status list is empty. So :class:`BoundedSpotify` keeps urllib3 for connection retries only
(``status=0``, ``respect_retry_after_header=False``) and retries 429/5xx itself: it honours
``Retry-After`` (seconds, or an HTTP date) while the *total* wait stays within
``max_total_wait``, and otherwise raises :class:`~spotify.errors.SpotifyUnavailable` at once,
with a sentence that says how long Spotify asked us to wait. A 401 (the token expired earlier
than its ``expires_at`` said) triggers one token refresh and one retry; a refused refresh clears
the session's token and raises :class:`~spotify.errors.AuthError`.

No ``spotipy.SpotifyException`` leaves this module: any other error answer (a 4xx, or an id
spotipy refuses before sending) becomes :class:`~spotify.errors.SpotifyRefused`, which carries
the HTTP ``status`` and a sentence for the listener.
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Callable
from typing import Any

import requests
import spotipy
from requests.adapters import HTTPAdapter
from spotipy.exceptions import SpotifyException, SpotifyOauthError
from urllib3.util.retry import Retry

from spotify.errors import AuthError, SpotifyRefused, SpotifyUnavailable

logger = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://api.spotify.com/v1/"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
SIGNED_OUT = "Your Spotify sign-in has expired or was revoked; please sign in again."


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date); None if absent/bad.

    Spotify sends whole seconds; fractions are accepted too (the fake uses them to keep tests fast).
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _human(seconds: float) -> str:
    if seconds < 90:
        return f"{max(1, round(seconds))} seconds"
    if seconds < 5400:
        return f"{round(seconds / 60)} minutes"
    return f"{seconds / 3600:.1f} hours"


class BoundedSpotify(spotipy.Spotify):
    """``spotipy.Spotify`` whose 429/5xx retries never wait more than ``max_total_wait`` in total."""

    def __init__(self, *, auth_manager: Any = None, auth: str | None = None,
                 api_base: str = DEFAULT_API_BASE, timeout: float = 10.0, max_total_wait: float = 10.0,
                 status_retries: int = 3, connect_retries: int = 2, backoff_factor: float = 0.5,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(auth=auth, auth_manager=auth_manager, requests_timeout=timeout,
                         retries=connect_retries, status_retries=0, backoff_factor=backoff_factor)
        # spotipy has no constructor argument for the base URL; ``prefix`` is an instance attribute.
        self.prefix = api_base if api_base.endswith("/") else api_base + "/"
        self.status_retries = status_retries
        self.max_total_wait = max_total_wait
        self._sleep = sleep

    def _build_session(self) -> None:
        self._session = requests.Session()
        retry = Retry(total=self.retries, connect=self.retries, read=False, status=0, other=0,
                      redirect=0, status_forcelist=frozenset(), respect_retry_after_header=False,
                      raise_on_status=False, backoff_factor=self.backoff_factor,
                      allowed_methods=frozenset({"GET", "POST", "PUT", "DELETE"}))
        adapter = HTTPAdapter(max_retries=retry)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)

    def _internal_call(self, method: str, url: str, payload: Any, params: dict[str, Any]) -> Any:
        waited = 0.0
        attempt = 0
        refreshed = False
        while True:
            try:
                # spotipy deletes keys from ``params``; give every attempt its own copy.
                return super()._internal_call(method, url, payload, dict(params))
            except SpotifyException as exc:
                if exc.http_status == 401 and not refreshed and self._force_refresh():
                    refreshed = True
                    continue
                if exc.http_status not in RETRY_STATUSES:
                    raise SpotifyRefused(status=exc.http_status) from exc
                headers = exc.headers or {}
                asked = parse_retry_after(headers.get("Retry-After"))
                delay = asked if asked is not None else self.backoff_factor * (2 ** attempt)
                if attempt >= self.status_retries or waited + delay > self.max_total_wait:
                    raise _unavailable(exc.http_status, asked, attempt + 1) from exc
                logger.info("Spotify answered %s; retrying in %.2f s", exc.http_status, delay)
                self._sleep(delay)
                waited += delay
                attempt += 1
            except SpotifyOauthError as exc:
                self._forget_token()
                raise AuthError(SIGNED_OUT) from exc
            except requests.exceptions.Timeout as exc:
                raise SpotifyUnavailable("Spotify did not answer in time; please try again in a moment.") from exc
            except requests.exceptions.RequestException as exc:
                raise SpotifyUnavailable("Could not reach Spotify; check the connection and try again.") from exc

    def _get_id(self, type: str, id: str) -> str:
        # spotipy validates ids, URIs and links itself (raising its own exception, status 400).
        try:
            return str(super()._get_id(type, id))
        except SpotifyException as exc:
            raise SpotifyRefused(f"Spotify cannot use {id!r} as a {type} id, URI or link.") from exc

    def _force_refresh(self) -> bool:
        """Refresh the token after a 401; False when there is nothing to refresh with."""
        manager = self.auth_manager
        cache = getattr(manager, "cache_handler", None)
        token = cache.get_cached_token() if cache is not None else None
        if not token or not token.get("refresh_token") or not hasattr(manager, "refresh_access_token"):
            return False
        try:
            manager.refresh_access_token(token["refresh_token"])
        except SpotifyOauthError as exc:
            self._forget_token()
            raise AuthError(SIGNED_OUT) from exc
        return True

    def _forget_token(self) -> None:
        clear = getattr(getattr(self.auth_manager, "cache_handler", None), "clear", None)
        if callable(clear):
            clear()


def _unavailable(status: int, asked: float | None, attempts: int) -> SpotifyUnavailable:
    if status == 429:
        wait = f" in about {_human(asked)}" if asked is not None else " in a minute"
        return SpotifyUnavailable(f"Spotify is limiting how often this app may call it right now; "
                                  f"please try again{wait}.", status=429, retry_after=asked)
    return SpotifyUnavailable(f"Spotify is having trouble right now (HTTP {status} after {attempts} "
                              f"tries); please try again in a few minutes.", status=status, retry_after=asked)


def make_client(auth_manager: Any = None, *, access_token: str | None = None,
                api_base: str = DEFAULT_API_BASE, timeout: float = 10.0, max_total_wait: float = 10.0,
                status_retries: int = 3, connect_retries: int = 2, backoff_factor: float = 0.5,
                sleep: Callable[[float], None] = time.sleep) -> BoundedSpotify:
    """A spotipy client for ``api_base`` that can never block for long.

    Parameters
    ----------
    auth_manager
        A spotipy auth manager (``SpotifyOAuth``/``SpotifyPKCE``, see :mod:`spotify.auth`);
        or pass ``access_token`` for a fixed token (scripts, the fake's ``/_test/token``).
    api_base
        The Web API base URL, e.g. the fake server's ``http://127.0.0.1:PORT/v1/``.
    timeout
        Seconds to wait for one HTTP response.
    max_total_wait
        Upper bound on the seconds spent sleeping between 429/5xx retries of one call; a
        ``Retry-After`` that would exceed it raises :class:`SpotifyUnavailable` immediately.
    status_retries, connect_retries, backoff_factor
        Retries after a 429/5xx answer; after a failed connection; the 5xx backoff base
        (``backoff_factor * 2**attempt`` seconds when there is no ``Retry-After``).
    sleep
        How to wait (injectable so a caller can observe the waits).

    Returns
    -------
    BoundedSpotify
        A ``spotipy.Spotify``; its calls raise :class:`~spotify.errors.SpotifyUnavailable`,
        :class:`~spotify.errors.AuthError` or :class:`~spotify.errors.SpotifyRefused` with a
        message fit for the listener (never a spotipy exception).
    """
    if auth_manager is None and not access_token:
        raise ValueError("make_client needs an auth_manager or an access_token")
    return BoundedSpotify(auth_manager=auth_manager, auth=access_token, api_base=api_base, timeout=timeout,
                          max_total_wait=max_total_wait, status_retries=status_retries,
                          connect_retries=connect_retries, backoff_factor=backoff_factor, sleep=sleep)
