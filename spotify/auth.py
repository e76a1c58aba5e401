"""Spotify sign-in for a multi-visitor web app: per-session token cache, signed and bound ``state``, PKCE.

Flow (the app calls these; nothing here imports streamlit)::

    auth = SpotifyAuth(AuthConfig.from_settings(settings), st.session_state)
    if SpotifyAuth.is_callback(st.query_params):
        cookie = st.context.cookies.get(auth.config.binding_cookie)
        signed_in = auth.handle_callback(st.query_params, browser_nonce=cookie)  # AuthError: a sentence
        st.query_params.clear()                  # drop code/state from the address bar
        # not signed_in: show "Continue as <auth.pending_account() name>?" -> confirm_pending()
    if not auth.is_signed_in():
        link = auth.authorize_url()              # AuthError for a redirect URI Spotify refuses
        # the link's click stores auth.binding_nonce() in the cookie auth.config.binding_cookie
    sp = auth.client()                           # a spotipy client bound to this session only

Decisions:

- **Token cache**: :class:`SessionCacheHandler`, a spotipy ``CacheHandler`` over the mapping the
  app passes (``st.session_state``), so each browser session has its own token. Never a
  ``.cache`` file and never a shared client, which would hand one listener's account to every
  visitor of a hosted app.
- **state**: ``v2.<unix time>.<nonce>.<HMAC-SHA256>`` over the client id, time and nonce with a
  key derived from ``state_secret`` (``APP_STATE_SECRET``); a bad signature or an age beyond
  ``state_ttl_s`` (10 minutes) is refused with :class:`~spotify.errors.AuthError`, and so is a
  nonce this process has already signed someone in with (a replayed link; across processes
  Spotify's single-use code refuses it). Without a configured secret a random per-process
  secret is used (fine for one process; set ``APP_STATE_SECRET`` when several processes or
  restarts serve the app).
- **Binding the callback to the browser (login CSRF)**: a valid signed state alone would let a
  forwarded ``?code=&state=`` link sign its victim into the sender's account. The nonce is
  therefore the *session's own* (:meth:`SpotifyAuth.binding_nonce`, kept in the session) and the
  sign-in link's click also copies it into a short-lived first-party cookie
  (:attr:`AuthConfig.binding_cookie`, written by the page's JavaScript: Streamlit cannot set
  cookies from Python, but ``st.context.cookies`` reads them). Spotify's redirect back is a full
  page load, so it opens a *new* Streamlit session (checked with Chromium: the session id
  changes); that session has no nonce, but the browser sends the cookie. A callback whose nonce
  matches neither the session's nor the cookie -- a forwarded link, or a browser that blocks
  the cookie -- never signs in silently: the token is held back (not this session's token) and
  the app asks "Continue as <Spotify display name>?" (:meth:`SpotifyAuth.pending_account`,
  :meth:`~SpotifyAuth.confirm_pending`, :meth:`~SpotifyAuth.discard_pending`).
- **Flows**: the authorization-code flow with the client secret when there is one, PKCE (no
  secret) otherwise. PKCE's ``code_verifier`` is *derived*, not stored: HMAC-SHA256 of the
  state's nonce under a key derived from the state secret (43 base64url characters, 256
  bits). Only the nonce travels in the URL, and without the secret the verifier cannot be
  computed from it (HMAC is a PRF), which is the secrecy RFC 7636 asks of a verifier. Nothing is
  kept per pending sign-in, so anonymous reruns cannot flood or evict anything, and any process
  with the same ``APP_STATE_SECRET`` (a restart, a replica) can finish a sign-in another started.
- **Redirect URI**: Spotify accepts ``https`` and the loopback literals ``http://127.0.0.1`` /
  ``http://[::1]``; ``localhost`` and other plain-http hosts get a sentence
  (:func:`redirect_problem`) instead of a sign-in link.
- **Refresh**: spotipy refreshes a token that is within 60 s of expiry; the client from
  :mod:`spotify.client` also refreshes once on a 401. A refused refresh signs the session out.
- **Scopes**: exactly :data:`SCOPES`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from spotipy.cache_handler import CacheHandler
from spotipy.exceptions import SpotifyOauthError
from spotipy.oauth2 import SpotifyOAuth, SpotifyPKCE

from spotify.client import DEFAULT_API_BASE, BoundedSpotify, make_client
from spotify.errors import AuthError, SpotifyError, SpotifyUnavailable

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
#: This session's sign-in nonce (the one its links carry), and a token waiting for "Continue as ...?".
NONCE_KEY = SESSION_PREFIX + "signin_nonce"
PENDING_KEY = SESSION_PREFIX + "unconfirmed_token"
PENDING_ACCOUNT_KEY = SESSION_PREFIX + "unconfirmed_account"
#: The cookie the sign-in link's click writes (``__Host-`` prefixed when the app is served over https).
COOKIE_NAME = "spotify_signin"
STATE_VERSION = "v2"
STATE_TTL_S = 600.0
NOT_SIGNED_IN = "You are not signed in to Spotify; please sign in first."
#: Error codes Spotify's redirect may carry (RFC 6749 section 4.1.2.1); any other text is never shown.
OAUTH_ERRORS = frozenset({"invalid_request", "unauthorized_client", "access_denied", "unsupported_response_type",
                          "invalid_scope", "server_error", "temporarily_unavailable"})
_NONCE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_LOOPBACK = ("127.0.0.1", "::1")
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


def redirect_problem(redirect_uri: str) -> str | None:
    """Why Spotify will refuse ``redirect_uri`` (one sentence naming it), or None when it is fine.

    Since 2025 Spotify accepts ``https`` redirect URIs and, for plain ``http``, only the loopback
    literals ``127.0.0.1`` and ``[::1]``; ``localhost`` is refused.
    """
    try:
        parts = urlsplit(redirect_uri)
        host, port = parts.hostname, (f":{parts.port}" if parts.port else "")
    except ValueError:  # e.g. a port that is not a number
        return f"SPOTIFY_REDIRECT_URI={redirect_uri!r} is not a valid URL; set it to this app's address."
    if parts.scheme not in ("http", "https") or not host:
        return f"SPOTIFY_REDIRECT_URI={redirect_uri!r} is not an http(s) URL; set it to this app's address."
    if host == "localhost":
        return (f"Spotify does not accept 'localhost' in redirect URIs (SPOTIFY_REDIRECT_URI={redirect_uri}); "
                f"use http://127.0.0.1{port}{parts.path or '/'} and register that in the Spotify dashboard.")
    if parts.scheme == "http" and host not in _LOOPBACK:
        return (f"Spotify accepts plain-http redirect URIs only on 127.0.0.1 or [::1] "
                f"(SPOTIFY_REDIRECT_URI={redirect_uri}); serve the app over https and use that address.")
    return None


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

    @property
    def binding_cookie(self) -> str:
        """The name of the cookie that binds a sign-in to the browser that started it.

        ``__Host-`` when the redirect URI is https: browsers then accept the cookie only from
        this exact origin (Secure, Path=/, no Domain), so a sibling subdomain cannot plant one.
        """
        return ("__Host-" if self.redirect_uri.lower().startswith("https:") else "") + COOKIE_NAME

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


def _subkey(secret: bytes, purpose: str) -> bytes:
    # One secret, separate keys per use (state MAC, PKCE verifier): neither output helps forge the other.
    return hmac.new(secret, f"music-recommender/{purpose}".encode(), hashlib.sha256).digest()


def _mac(secret: bytes, client_id: str, issued_at: int, nonce: str) -> str:
    message = f"{STATE_VERSION}|{client_id}|{issued_at}|{nonce}".encode()
    return _b64(hmac.new(_subkey(secret, "state"), message, hashlib.sha256).digest())


def sign_state(secret: bytes, *, client_id: str, issued_at: int, nonce: str) -> str:
    """``v2.<issued_at>.<nonce>.<mac>``; ``nonce`` must be URL-safe base64 (no dots)."""
    return f"{STATE_VERSION}.{issued_at}.{nonce}.{_mac(secret, client_id, issued_at, nonce)}"


def verify_state(state: str, secret: bytes, *, client_id: str, ttl_s: float, now: float) -> str:
    """Check a state made by :func:`sign_state`; return its nonce or raise :class:`AuthError`."""
    parts = state.split(".") if isinstance(state, str) else []
    if len(parts) != 4 or parts[0] != STATE_VERSION or not parts[1].isdigit() or not _NONCE.match(parts[2]):
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


def pkce_verifier(secret: bytes, *, client_id: str, nonce: str) -> str:
    """The PKCE ``code_verifier`` of a sign-in: HMAC-SHA256(key derived from ``secret``, nonce).

    43 base64url characters (RFC 7636 allows 43..128) carrying 256 pseudo-random bits. The nonce
    is public (it is in the ``state``); the verifier is not computable without the secret.
    """
    message = f"{STATE_VERSION}|{client_id}|{nonce}".encode()
    return _b64(hmac.new(_subkey(secret, "pkce-verifier"), message, hashlib.sha256).digest())


def pkce_challenge(verifier: str) -> str:
    """The S256 ``code_challenge`` of a ``code_verifier`` (RFC 7636)."""
    return _b64(hashlib.sha256(verifier.encode("ascii")).digest())


class SeenNonces:
    """Nonces this process has completed a sign-in with, so a replayed link is refused at once.

    Filled only after Spotify accepted a code (which an anonymous visitor cannot produce), kept
    for the state's lifetime and bounded; losing an entry (eviction, another process) only
    means the replay reaches Spotify, which refuses the used code itself.
    """

    def __init__(self, *, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        self._items: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()
        self._max = max_entries
        self._clock = clock

    def add(self, nonce: str, *, ttl_s: float) -> None:
        with self._lock:
            now = self._clock()
            while self._items and (len(self._items) >= self._max or next(iter(self._items.values())) <= now):
                self._items.popitem(last=False)
            self._items[nonce] = now + ttl_s

    def __contains__(self, nonce: object) -> bool:
        with self._lock:
            expires = self._items.get(str(nonce))
        return expires is not None and expires > self._clock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


SEEN = SeenNonces()


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
                 seen: SeenNonces | None = None, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.cache = SessionCacheHandler(session)
        self._seen = SEEN if seen is None else seen
        self._clock = clock
        if config.state_secret:
            self._secret = config.state_secret.encode("utf-8")
        else:
            _warn_once("APP_STATE_SECRET is not set: signing sign-in state with a per-process secret")
            self._secret = _PROCESS_SECRET
        self._manager: SpotifyOAuth | SpotifyPKCE | None = None

    @property
    def session(self) -> MutableMapping[str, Any]:
        """The session mapping this sign-in keeps its token and nonce in."""
        return self.cache.session

    @property
    def configured(self) -> bool:
        """True when a client id is set (otherwise the app offers only the demo)."""
        return bool(self.config.client_id)

    def _new_manager(self, cache: CacheHandler) -> SpotifyOAuth | SpotifyPKCE:
        if not self.configured:
            raise AuthError("Spotify sign-in is not configured (SPOTIFY_CLIENT_ID is empty).")
        common = dict(client_id=self.config.client_id, redirect_uri=self.config.redirect_uri,
                      scope=list(SCOPES), cache_handler=cache, open_browser=False,
                      requests_timeout=self.config.timeout_s)
        manager: SpotifyOAuth | SpotifyPKCE
        if self.config.uses_pkce:
            manager = _PKCE(**common)
        else:
            manager = _OAuth(client_secret=self.config.client_secret, **common)
        base = self.config.accounts_base.rstrip("/")
        manager.OAUTH_AUTHORIZE_URL = f"{base}/authorize"
        manager.OAUTH_TOKEN_URL = f"{base}/api/token"
        return manager

    @property
    def manager(self) -> SpotifyOAuth | SpotifyPKCE:
        """The spotipy auth manager of this session, pointed at ``accounts_base``."""
        if self._manager is None:
            self._manager = self._new_manager(self.cache)
        return self._manager

    @staticmethod
    def is_callback(query_params: Mapping[str, Any]) -> bool:
        """True when the page was opened by Spotify's redirect (``code`` or ``error`` with ``state``)."""
        return "state" in query_params and ("code" in query_params or "error" in query_params)

    def binding_nonce(self) -> str:
        """This session's sign-in nonce: made once, reused by every link until a sign-in uses it.

        The value the sign-in link's click writes into :attr:`AuthConfig.binding_cookie`. One per
        session, kept in the session itself: nothing process-wide grows with visitors or reruns.
        """
        nonce = self.session.get(NONCE_KEY)
        if not isinstance(nonce, str) or not _NONCE.match(nonce) or nonce in self._seen:
            nonce = secrets.token_urlsafe(16)
            self.session[NONCE_KEY] = nonce
        return nonce

    def authorize_url(self, *, show_dialog: bool = False) -> str:
        """The Spotify URL to send the listener to, with a fresh signed ``state``.

        Raises :class:`AuthError` with a sentence when Spotify would refuse the redirect URI.
        """
        problem = redirect_problem(self.config.redirect_uri)
        if problem:
            raise AuthError(problem)
        manager = self.manager
        nonce = self.binding_nonce()
        state = sign_state(self._secret, client_id=self.config.client_id,
                           issued_at=int(self._clock()), nonce=nonce)
        if isinstance(manager, SpotifyPKCE):
            verifier = pkce_verifier(self._secret, client_id=self.config.client_id, nonce=nonce)
            manager.code_verifier, manager.code_challenge = verifier, pkce_challenge(verifier)
            try:
                return manager.get_authorize_url(state=state)
            finally:  # the verifier is derived again at the callback; no object keeps it
                manager.code_verifier = manager.code_challenge = None
        manager.show_dialog = show_dialog
        return manager.get_authorize_url(state=state)

    def handle_callback(self, query_params: Mapping[str, Any], *, browser_nonce: str | None = None) -> bool:
        """Finish sign-in from the redirect's query parameters.

        ``browser_nonce`` is the value of the :attr:`AuthConfig.binding_cookie` cookie the
        browser sent, if any. Returns True when this session is now signed in: the state's
        nonce is this session's or the browser's. Returns False when it is neither (a forwarded
        link, or a browser that blocked the cookie): the token is then held back under
        :data:`PENDING_KEY` -- this session is *not* signed in -- until :meth:`confirm_pending`
        (or :meth:`discard_pending`); :meth:`pending_account` names the Spotify account to ask about.

        The ``state`` is checked before anything else, so an ``error`` text is never repeated
        unless it is one of the :data:`OAUTH_ERRORS` codes. Raises :class:`AuthError` (cancelled,
        bad/expired/used state, refused code) or :class:`SpotifyUnavailable` (service unreachable).
        """
        error, code, state = (_first(query_params.get(k)) for k in ("error", "code", "state"))
        if not state:
            raise AuthError("The sign-in response from Spotify is incomplete; please sign in again.")
        nonce = verify_state(state, self._secret, client_id=self.config.client_id,
                             ttl_s=self.config.state_ttl_s, now=self._clock())
        if error:
            if error == "access_denied":
                raise AuthError("You cancelled the Spotify sign-in.")
            reason = f" ({error})" if error in OAUTH_ERRORS else ""
            raise AuthError(f"Spotify did not complete the sign-in{reason}; please try again.")
        if not code:
            raise AuthError("The sign-in response from Spotify is incomplete; please sign in again.")
        if nonce in self._seen:
            raise AuthError("This sign-in link was already used; please sign in again.")
        own = self.session.get(NONCE_KEY)
        bound = any(isinstance(v, str) and _NONCE.match(v) and hmac.compare_digest(v, nonce)
                    for v in (own, browser_nonce))  # compare_digest refuses non-ASCII text: match first
        self.discard_pending()
        token = self._exchange(code, nonce, key=TOKEN_KEY if bound else PENDING_KEY)
        self._seen.add(nonce, ttl_s=self.config.state_ttl_s + 60)
        if bound:
            self.session.pop(NONCE_KEY, None)  # the next sign-in of this session gets a new one
            return True
        try:
            me = make_client(access_token=token["access_token"], api_base=self.config.api_base,
                             timeout=self.config.timeout_s, max_total_wait=self.config.max_total_wait_s).me()
        except SpotifyError:
            self.discard_pending()
            raise
        self.session[PENDING_ACCOUNT_KEY] = {"id": str(me.get("id") or ""),
                                             "display_name": str(me.get("display_name") or me.get("id") or "")}
        return False

    def _exchange(self, code: str, nonce: str, *, key: str) -> dict[str, Any]:
        cache = SessionCacheHandler(self.session, key)
        manager = self._new_manager(cache)
        try:
            if isinstance(manager, SpotifyPKCE):
                verifier = pkce_verifier(self._secret, client_id=self.config.client_id, nonce=nonce)
                manager.code_verifier, manager.code_challenge = verifier, pkce_challenge(verifier)
                manager.get_access_token(code=code, check_cache=False)
            else:
                manager.get_access_token(code=code, as_dict=False, check_cache=False)
        except SpotifyOauthError as exc:
            reason = exc.error_description or exc.error or "unknown reason"
            raise AuthError(f"Spotify refused the sign-in ({reason}); please sign in again.") from exc
        except requests.exceptions.RequestException as exc:
            raise SpotifyUnavailable("Could not reach Spotify's sign-in service; please try again.") from exc
        token = cache.get_cached_token()
        if token is None:  # spotipy saves on success; keep the promise explicit
            raise AuthError("Spotify did not return a token; please sign in again.")
        return token

    def pending_account(self) -> dict[str, str] | None:
        """``{"id", "display_name"}`` of a sign-in waiting for confirmation, else None."""
        account = self.session.get(PENDING_ACCOUNT_KEY)
        if not account or not self.session.get(PENDING_KEY):
            return None
        return dict(account)

    def confirm_pending(self) -> None:
        """The listener confirmed "Continue as ...": the held-back token becomes this session's."""
        token = self.session.get(PENDING_KEY)
        if not token:
            raise AuthError("There is no sign-in waiting to be confirmed; please sign in again.")
        self.discard_pending()
        self.cache.save_token_to_cache(dict(token))
        self._manager = None

    def discard_pending(self) -> None:
        """Forget a sign-in waiting for confirmation (the listener said it is not them)."""
        self.session.pop(PENDING_KEY, None)
        self.session.pop(PENDING_ACCOUNT_KEY, None)

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
        that prefix, so nothing of theirs outlives the sign-out in this session (a held-back
        token and the sign-in nonce included). Revoking the app's access altogether happens in
        the listener's Spotify account settings.
        """
        for key in [k for k in self.session if str(k).startswith(SESSION_PREFIX)]:
            del self.session[key]
        self._manager = None
