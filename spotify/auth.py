"""Spotify sign-in for a multi-visitor web app: per-session token cache, signed ``state``, PKCE.

Flow (the app calls these; nothing here imports streamlit)::

    auth = SpotifyAuth(AuthConfig.from_settings(settings), st.session_state)
    if SpotifyAuth.is_callback(st.query_params):
        auth.handle_callback(st.query_params)    # raises AuthError with a sentence to show
        st.query_params.clear()                  # drop code/state from the address bar
    if not auth.is_signed_in():
        st.link_button("Sign in with Spotify", auth.authorize_url())
    sp = auth.client()                           # a spotipy client bound to this session only

Decisions:

- **Token cache**: :class:`SessionCacheHandler`, a spotipy ``CacheHandler`` over the mapping the
  app passes (``st.session_state``), so each browser session has its own token. Never a
  ``.cache`` file and never a shared client, which would hand one listener's account to every
  visitor of a hosted app.
- **state**: the redirect back from Spotify opens a *new* Streamlit session, so ``state`` must be
  verifiable without server memory. It is ``v1.<unix time>.<nonce>.<HMAC-SHA256>`` over the
  client id, time and nonce with ``state_secret`` (``APP_STATE_SECRET``); a bad signature or an
  age beyond ``state_ttl_s`` (10 minutes) is refused with :class:`~spotify.errors.AuthError`.
  Without a configured secret a random per-process secret is used (fine for one process; set
  ``APP_STATE_SECRET`` when several processes serve the app). A signed state cannot bind the
  callback to the browser that started it (that would need the memory we lack); the code itself
  is single-use at Spotify.
- **Flows**: the authorization-code flow with the client secret when there is one, PKCE (no
  secret) otherwise. PKCE's ``code_verifier`` must survive the redirect but never travel in a URL:
  it sits in a process-wide :class:`PendingVerifiers` store keyed by the state's nonce, with the
  state's TTL, and is taken out (used once) by the callback.
- **Refresh**: spotipy refreshes a token that is within 60 s of expiry; the client from
  :mod:`spotify.client` also refreshes once on a 401. A refused refresh signs the session out.
- **Scopes**: exactly :data:`SCOPES`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import threading
import time
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from spotipy.cache_handler import CacheHandler
from spotipy.exceptions import SpotifyOauthError
from spotipy.oauth2 import SpotifyOAuth, SpotifyPKCE

from spotify.client import DEFAULT_API_BASE, BoundedSpotify, make_client
from spotify.errors import AuthError, SpotifyUnavailable

logger = logging.getLogger(__name__)

SCOPES: tuple[str, ...] = (
    "user-top-read", "user-read-recently-played", "user-library-read", "playlist-read-private",
    "playlist-modify-private", "playlist-modify-public",
)
DEFAULT_REDIRECT_URI = "http://127.0.0.1:8501/"
DEFAULT_ACCOUNTS_BASE = "https://accounts.spotify.com"
#: Session keys starting with this prefix belong to the signed-in listener; sign-out removes them all.
SESSION_PREFIX = "spotify_"
TOKEN_KEY = SESSION_PREFIX + "token_info"
STATE_TTL_S = 600.0
NOT_SIGNED_IN = "You are not signed in to Spotify; please sign in first."
_PROCESS_SECRET = secrets.token_bytes(32)
_WARNED: set[str] = set()


def _warn_once(message: str) -> None:
    # The app builds a SpotifyAuth on every rerun; one line per process is enough.
    if message not in _WARNED:
        _WARNED.add(message)
        logger.warning(message)


class _NoSecretsInLogs(logging.Filter):
    """Drop spotipy's DEBUG lines that print request headers and bodies.

    They carry the ``Authorization: Basic`` client secret, bearer tokens, the authorization
    code, the PKCE verifier and refresh tokens; an app running with DEBUG logging must not
    write those to its logs.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.DEBUG:
            return True
        message = str(record.msg)
        return not any(word in message for word in ("Headers", "Body", "RESULTS"))


for _name in ("spotipy.oauth2", "spotipy.client"):
    if not any(isinstance(f, _NoSecretsInLogs) for f in logging.getLogger(_name).filters):
        logging.getLogger(_name).addFilter(_NoSecretsInLogs())


@dataclass(frozen=True)
class AuthConfig:
    """What sign-in needs; secrets are left out of ``repr``."""

    client_id: str
    client_secret: str = field(default="", repr=False)
    redirect_uri: str = DEFAULT_REDIRECT_URI
    state_secret: str = field(default="", repr=False)
    api_base: str = DEFAULT_API_BASE
    accounts_base: str = DEFAULT_ACCOUNTS_BASE
    state_ttl_s: float = STATE_TTL_S
    timeout_s: float = 10.0
    max_total_wait_s: float = 10.0

    @property
    def uses_pkce(self) -> bool:
        """PKCE when there is no client secret (e.g. a public demo without one)."""
        return not self.client_secret

    @classmethod
    def from_settings(cls, settings: Any, **overrides: Any) -> "AuthConfig":
        """Map ``engine.core.config.Settings`` (or anything with the same attribute names) onto a config."""
        values = {
            "client_id": settings.spotify_client_id,
            "client_secret": settings.spotify_client_secret,
            "redirect_uri": settings.spotify_redirect_uri or DEFAULT_REDIRECT_URI,
            "state_secret": settings.app_state_secret,
            "api_base": settings.spotify_api_base or DEFAULT_API_BASE,
            "accounts_base": settings.spotify_accounts_base or DEFAULT_ACCOUNTS_BASE,
        }
        values.update(overrides)
        return cls(**values)


# -- state ---------------------------------------------------------------------------------
def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _mac(secret: bytes, client_id: str, issued_at: int, nonce: str) -> str:
    message = f"v1|{client_id}|{issued_at}|{nonce}".encode()
    return _b64(hmac.new(secret, message, hashlib.sha256).digest())


def sign_state(secret: bytes, *, client_id: str, issued_at: int, nonce: str) -> str:
    """``v1.<issued_at>.<nonce>.<mac>``; ``nonce`` must be URL-safe base64 (no dots)."""
    return f"v1.{issued_at}.{nonce}.{_mac(secret, client_id, issued_at, nonce)}"


def verify_state(state: str, secret: bytes, *, client_id: str, ttl_s: float, now: float) -> str:
    """Check a state made by :func:`sign_state`; return its nonce or raise :class:`AuthError`."""
    parts = state.split(".") if isinstance(state, str) else []
    if len(parts) != 4 or parts[0] != "v1" or not parts[1].isdigit() or not parts[2]:
        raise AuthError("The sign-in response could not be verified (malformed state); please sign in again.")
    issued_at, nonce = int(parts[1]), parts[2]
    if not hmac.compare_digest(parts[3], _mac(secret, client_id, issued_at, nonce)):
        raise AuthError("The sign-in response could not be verified (state signature mismatch); "
                        "please sign in again.")
    age = now - issued_at
    if age > ttl_s or age < -60:  # a minute of clock skew between processes is fine
        raise AuthError(f"The sign-in link expired (it is valid for {round(ttl_s / 60)} minutes); "
                        f"please sign in again.")
    return nonce


def pkce_challenge(verifier: str) -> str:
    """The S256 ``code_challenge`` of a ``code_verifier`` (RFC 7636)."""
    return _b64(hashlib.sha256(verifier.encode("ascii")).digest())


class PendingVerifiers:
    """Process-wide PKCE ``code_verifier`` store: nonce -> verifier, short TTL, each used once.

    Bounded (oldest entries dropped beyond ``max_entries``) so a flood of sign-in clicks cannot
    grow memory without limit.
    """

    def __init__(self, *, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        self._items: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()
        self._max = max_entries
        self._clock = clock

    def put(self, nonce: str, verifier: str, *, ttl_s: float) -> None:
        with self._lock:
            now = self._clock()
            self._items = {k: v for k, v in self._items.items() if v[1] > now}
            while len(self._items) >= self._max:
                self._items.pop(next(iter(self._items)))
            self._items[nonce] = (verifier, now + ttl_s)

    def pop(self, nonce: str) -> str | None:
        """The verifier for ``nonce`` (removed), or None when unknown, used or expired."""
        with self._lock:
            item = self._items.pop(nonce, None)
        if item is None or item[1] <= self._clock():
            return None
        return item[0]

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


VERIFIERS = PendingVerifiers()


# -- spotipy plumbing ----------------------------------------------------------------------
class SessionCacheHandler(CacheHandler):
    """A spotipy token cache over one session's mapping (``st.session_state`` in the app)."""

    def __init__(self, session: MutableMapping[str, Any], key: str = TOKEN_KEY) -> None:
        self.session = session
        self.key = key

    def get_cached_token(self) -> dict[str, Any] | None:
        token = self.session.get(self.key)
        return dict(token) if token else None

    def save_token_to_cache(self, token_info: dict[str, Any]) -> None:
        self.session[self.key] = dict(token_info)

    def clear(self) -> None:
        self.session.pop(self.key, None)


class _NoPrompt:
    """spotipy falls back to ``input()``/a local browser when it has no token; a web app must not."""

    def get_auth_response(self, open_browser: bool | None = None) -> str:
        raise AuthError(NOT_SIGNED_IN)

    def _get_auth_response(self, open_browser: bool | None = None) -> str:
        raise AuthError(NOT_SIGNED_IN)

    def get_authorization_code(self, response: str | None = None) -> str:
        if response:
            return super().get_authorization_code(response)  # type: ignore[misc]
        raise AuthError(NOT_SIGNED_IN)


class _OAuth(_NoPrompt, SpotifyOAuth):
    pass


class _PKCE(_NoPrompt, SpotifyPKCE):
    pass


def _first(value: Any) -> str | None:
    if isinstance(value, (list, tuple)):
        value = value[0] if value else None
    return None if value is None else str(value)


class SpotifyAuth:
    """Sign-in for one browser session; see the module docstring for the flow."""

    def __init__(self, config: AuthConfig, session: MutableMapping[str, Any], *,
                 verifiers: PendingVerifiers | None = None, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.cache = SessionCacheHandler(session)
        self._verifiers = VERIFIERS if verifiers is None else verifiers
        self._clock = clock
        if config.state_secret:
            self._secret = config.state_secret.encode("utf-8")
        else:
            _warn_once("APP_STATE_SECRET is not set: signing sign-in state with a per-process secret")
            self._secret = _PROCESS_SECRET
        self._manager: SpotifyOAuth | SpotifyPKCE | None = None

    @property
    def configured(self) -> bool:
        """True when a client id is set (otherwise the app offers only the demo)."""
        return bool(self.config.client_id)

    @property
    def manager(self) -> SpotifyOAuth | SpotifyPKCE:
        """The spotipy auth manager of this session, pointed at ``accounts_base``."""
        if self._manager is None:
            if not self.configured:
                raise AuthError("Spotify sign-in is not configured (SPOTIFY_CLIENT_ID is empty).")
            common = dict(client_id=self.config.client_id, redirect_uri=self.config.redirect_uri,
                          scope=list(SCOPES), cache_handler=self.cache, open_browser=False,
                          requests_timeout=self.config.timeout_s)
            manager: SpotifyOAuth | SpotifyPKCE
            if self.config.uses_pkce:
                manager = _PKCE(**common)
            else:
                manager = _OAuth(client_secret=self.config.client_secret, **common)
            base = self.config.accounts_base.rstrip("/")
            manager.OAUTH_AUTHORIZE_URL = f"{base}/authorize"
            manager.OAUTH_TOKEN_URL = f"{base}/api/token"
            self._manager = manager
        return self._manager

    @staticmethod
    def is_callback(query_params: Mapping[str, Any]) -> bool:
        """True when the page was opened by Spotify's redirect (``code`` or ``error`` with ``state``)."""
        return "state" in query_params and ("code" in query_params or "error" in query_params)

    def authorize_url(self, *, show_dialog: bool = False) -> str:
        """The Spotify URL to send the listener to, with a fresh signed ``state``."""
        manager = self.manager
        if urlsplit(self.config.redirect_uri).hostname == "localhost":
            raise AuthError("Spotify does not accept 'localhost' in redirect URIs; use "
                            "http://127.0.0.1:8501/ (and register that in the Spotify dashboard).")
        nonce = secrets.token_urlsafe(16)
        state = sign_state(self._secret, client_id=self.config.client_id,
                           issued_at=int(self._clock()), nonce=nonce)
        if isinstance(manager, SpotifyPKCE):
            verifier = secrets.token_urlsafe(64)  # 86 characters, within RFC 7636's 43..128
            self._verifiers.put(nonce, verifier, ttl_s=self.config.state_ttl_s)
            manager.code_verifier, manager.code_challenge = verifier, pkce_challenge(verifier)
            try:
                return manager.get_authorize_url(state=state)
            finally:  # the verifier lives only in the store, not in this session's objects
                manager.code_verifier = manager.code_challenge = None
        manager.show_dialog = show_dialog
        return manager.get_authorize_url(state=state)

    def handle_callback(self, query_params: Mapping[str, Any]) -> dict[str, Any]:
        """Finish sign-in from the redirect's query parameters; returns the token info.

        Raises :class:`AuthError` (cancelled, bad/expired state, used link, refused code) or
        :class:`SpotifyUnavailable` (accounts service unreachable).
        """
        error, code, state = (_first(query_params.get(k)) for k in ("error", "code", "state"))
        if error:
            if error == "access_denied":
                raise AuthError("You cancelled the Spotify sign-in.")
            raise AuthError(f"Spotify did not complete the sign-in ({error}); please try again.")
        if not code or not state:
            raise AuthError("The sign-in response from Spotify is incomplete; please sign in again.")
        nonce = verify_state(state, self._secret, client_id=self.config.client_id,
                             ttl_s=self.config.state_ttl_s, now=self._clock())
        manager = self.manager
        try:
            if isinstance(manager, SpotifyPKCE):
                verifier = self._verifiers.pop(nonce)
                if verifier is None:
                    raise AuthError("This sign-in link was already used or has expired; please sign in again.")
                manager.code_verifier, manager.code_challenge = verifier, pkce_challenge(verifier)
                try:
                    manager.get_access_token(code=code, check_cache=False)
                finally:
                    manager.code_verifier = manager.code_challenge = None
            else:
                manager.get_access_token(code=code, as_dict=False, check_cache=False)
        except SpotifyOauthError as exc:
            reason = exc.error_description or exc.error or "unknown reason"
            raise AuthError(f"Spotify refused the sign-in ({reason}); please sign in again.") from exc
        except requests.exceptions.RequestException as exc:
            raise SpotifyUnavailable("Could not reach Spotify's sign-in service; please try again.") from exc
        token = self.cache.get_cached_token()
        if token is None:  # spotipy saves on success; keep the promise explicit
            raise AuthError("Spotify did not return a token; please sign in again.")
        return token

    def is_signed_in(self) -> bool:
        """True when this session holds a token (an expired one is refreshed on the next call)."""
        token = self.cache.get_cached_token()
        return bool(token and token.get("access_token"))

    def client(self, **kwargs: Any) -> BoundedSpotify:
        """A spotipy client for this session's listener (``kwargs`` go to :func:`make_client`)."""
        if not self.is_signed_in():
            raise AuthError(NOT_SIGNED_IN)
        options = {"api_base": self.config.api_base, "timeout": self.config.timeout_s,
                   "max_total_wait": self.config.max_total_wait_s, **kwargs}
        return make_client(self.manager, **options)

    def sign_out(self) -> None:
        """Forget this session's token and every ``spotify_``-prefixed session key.

        The app keeps what it derives from the listener's account (history, profile) under
        that prefix, so nothing of theirs outlives the sign-out in this session. Revoking the
        app's access altogether happens in the listener's Spotify account settings.
        """
        for key in [k for k in self.cache.session if str(k).startswith(SESSION_PREFIX)]:
            del self.cache.session[key]
        self._manager = None
