"""The fake Spotify server: state (tokens, codes, playlists), controls, recording and HTTP plumbing.

One ``ThreadingHTTPServer`` on 127.0.0.1 serves both the accounts service (``/authorize``,
``/api/token``) and the Web API (``/v1/...``), plus ``/_test/...`` helpers that exist only here.
Every request is recorded (method, path, the URL as received, query, JSON body, form fields,
the user its token belongs to, and the status answered) so tests can assert on the wire.
"""

from __future__ import annotations

import copy
import io
import logging
import secrets
import struct
import threading
import time
import wave
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.fake_spotify import accounts, api
from tests.fake_spotify.seed import SeedPlaylist, build_seed, spotify_id
from tests.fake_spotify.state import (
    ACCESS_TTL_S,
    DEFAULT_CLIENTS,
    KNOWN_SCOPES,
    AuthCode,
    Injected,
    RecordedRequest,
    State,
    Token,
)
from tests.fake_spotify.wire import ApiError, OAuthError, Request, Response

logger = logging.getLogger(__name__)

class FakeSpotify:
    """A local Spotify (accounts + Web API) with seeded listeners; see the package docstring."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, catalogue: Path | str | None = None,
                 seed: int = 7, dev_mode: bool = True, clients: dict[str, str | None] | None = None,
                 auto_approve: str | None = None, latency_s: float = 0.0) -> None:
        self.seed = build_seed(catalogue=catalogue, seed=seed)
        #: Seconds every Web API request waits before it is answered (a stand-in for Spotify's
        #: round trip, for benches; each request is its own thread, so they wait side by side).
        self.latency_s = latency_s
        self.dev_mode = dev_mode
        self.clients = dict(DEFAULT_CLIENTS if clients is None else clients)
        #: When set to a seeded user id, ``/authorize`` approves at once as that user.
        self.auto_approve = auto_approve
        self.lock = threading.RLock()
        self._state = State()
        self._counter = 0
        self._httpd = ThreadingHTTPServer((host, port), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.fake = self  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def api_base(self) -> str:
        """What spotipy's ``prefix`` should be (trailing slash included)."""
        return f"{self.base_url}/v1/"

    @property
    def accounts_base(self) -> str:
        return self.base_url

    def start(self) -> "FakeSpotify":
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="fake-spotify",
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> "FakeSpotify":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- controls and inspection (tests) --------------------------------------------------------
    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, oldest first (a copy)."""
        with self.lock:
            return list(self._state.requests)

    def requests_to(self, path_prefix: str, method: str | None = None) -> list[RecordedRequest]:
        """Recorded requests whose path starts with ``path_prefix`` (and of ``method``)."""
        return [r for r in self.requests
                if r.path.startswith(path_prefix) and (method is None or r.method == method)]

    def clear_requests(self) -> None:
        with self.lock:
            self._state.requests.clear()

    def fail_next(self, n: int, status: int = 429, *, retry_after: float | str | None = None,
                  path_prefix: str = "/v1/", message: str | None = None) -> None:
        """Answer the next ``n`` requests under ``path_prefix`` with ``status``.

        429 carries ``Retry-After: retry_after`` (default 1); 401 says the token expired.
        """
        if status == 429 and retry_after is None:
            retry_after = 1
        default = {401: "The access token expired", 429: "API rate limit exceeded",
                   403: "Check settings on developer.spotify.com/dashboard, the user may not be registered."}
        with self.lock:
            self._state.failures.append(Injected(
                status, n, None if retry_after is None else str(retry_after), path_prefix,
                message or default.get(status, "Server error")))

    def expire_access_tokens(self, user: str | None = None) -> int:
        """Make every access token (of ``user``) expired, as an hour passing would; returns how many."""
        with self.lock:
            hit = [t for t in self._state.access.values() if user is None or t.user == user]
            for token in hit:
                token.expires_at = time.time() - 1
            return len(hit)

    def playlist(self, playlist_id: str) -> SeedPlaylist:
        """A copy of a stored playlist (KeyError when unknown)."""
        with self.lock:
            return copy.deepcopy(self.seed.playlists[playlist_id])

    def playlists_of(self, user: str) -> list[SeedPlaylist]:
        with self.lock:
            return [copy.deepcopy(p) for p in self.seed.playlists.values() if p.owner == user]

    def live_access_tokens(self, user: str) -> list[str]:
        with self.lock:
            now = time.time()
            return [t.value for t in self._state.access.values() if t.user == user and t.expires_at > now]

    # -- tokens and codes (used by accounts/api) -------------------------------------------------
    def new_id(self, kind: str) -> str:
        with self.lock:
            self._counter += 1
            return spotify_id(f"{kind}:{self._counter}:{secrets.token_hex(4)}")

    def issue_tokens(self, *, user: str | None, client_id: str, scopes: frozenset[str],
                     with_refresh: bool = True) -> dict[str, Any]:
        """Mint an access (and refresh) token; returns the token endpoint's JSON."""
        with self.lock:
            access = Token(secrets.token_urlsafe(24), user, client_id, scopes, time.time() + ACCESS_TTL_S)
            self._state.access[access.value] = access
            body: dict[str, Any] = {"access_token": access.value, "token_type": "Bearer",
                                    "expires_in": ACCESS_TTL_S, "scope": " ".join(sorted(scopes))}
            if with_refresh:
                refresh = Token(secrets.token_urlsafe(32), user, client_id, scopes, float("inf"))
                self._state.refresh[refresh.value] = refresh
                body["refresh_token"] = refresh.value
            return body

    def store_code(self, code: AuthCode) -> None:
        with self.lock:
            self._state.codes[code.value] = code

    def take_code(self, value: str) -> AuthCode | None:
        with self.lock:
            return self._state.codes.get(value)

    def refresh_token(self, value: str) -> Token | None:
        with self.lock:
            return self._state.refresh.get(value)

    def revoke_refresh(self, value: str) -> None:
        with self.lock:
            self._state.refresh.pop(value, None)

    def access_token(self, value: str | None) -> Token | None:
        with self.lock:
            return self._state.access.get(value) if value else None

    def take_failure(self, path: str) -> Injected | None:
        with self.lock:
            for failure in self._state.failures:
                if failure.remaining > 0 and path.startswith(failure.prefix):
                    failure.remaining -= 1
                    return failure
            self._state.failures = [f for f in self._state.failures if f.remaining > 0]
            return None

    # -- dispatch ------------------------------------------------------------------------------
    def handle(self, req: Request) -> Response:
        """Answer one request and record it."""
        user: str | None = None
        if self.latency_s > 0 and req.path.startswith("/v1/"):
            time.sleep(self.latency_s)
        try:
            if req.path.startswith("/v1/"):
                token = self.access_token(req.bearer())
                user = token.user if token else None
                resp = api.dispatch(self, req)
            elif req.path.startswith("/authorize"):
                resp = accounts.authorize(self, req)
            elif req.path == "/api/token":
                resp, user = accounts.token(self, req)
            elif req.path.startswith("/_test/"):
                resp = self._test_route(req)
            else:
                resp = ApiError(404, "Service not found").response()
        except (ApiError, OAuthError) as exc:
            resp = exc.response()
        except Exception:  # a bug in the fake must show up as a 500, not a hung client
            logger.exception("fake spotify failed on %s %s", req.method, req.path)
            resp = ApiError(500, "Server error").response()
        try:
            body = req.json() if "json" in (req.headers.get("Content-Type") or "") else None
        except ApiError:
            body = None
        form = req.form() if "form-urlencoded" in (req.headers.get("Content-Type") or "") else {}
        with self.lock:
            self._state.requests.append(RecordedRequest(
                req.method, req.path, req.url, req.query, body, form, user, resp.status))
        return resp

    def _test_route(self, req: Request) -> Response:
        if req.path == "/_test/token":
            user = req.arg("user", "alice") or "alice"
            if user not in self.seed.users:
                raise ApiError(404, f"No seeded user {user!r}; known: {', '.join(self.seed.users)}")
            scopes = frozenset((req.arg("scope") or " ".join(KNOWN_SCOPES)).split())
            body = self.issue_tokens(user=user, client_id=next(iter(self.clients), "fake"),
                                     scopes=scopes, with_refresh=False)
            return Response.json(200, dict(body, user=user))
        if req.path == "/_test/fail":
            self.fail_next(int(req.arg("n", "1") or 1), int(req.arg("status", "429") or 429),
                           retry_after=req.arg("retry_after"), path_prefix=req.arg("path", "/v1/") or "/v1/")
            return Response.json(200, {"ok": True})
        if req.path.startswith("/_test/image/"):
            key = req.path.rsplit("/", 1)[-1]
            hue = int.from_bytes(key.encode()[:4].ljust(4, b"\0"), "big") % 360
            svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="300" height="300">'
                   f'<rect width="300" height="300" fill="hsl({hue},55%,55%)"/></svg>')
            return Response(200, svg.encode(), "image/svg+xml")
        if req.path.startswith("/_test/preview/"):
            return Response(200, _silence_wav(), "audio/wav")
        if req.path in ("/_test/", "/_test/users"):
            return Response.json(200, {"users": list(self.seed.users), "catalogue": self.seed.source,
                                       "api_base": self.api_base, "accounts_base": self.accounts_base})
        raise ApiError(404, "Service not found")


def _silence_wav(seconds: float = 1.0, rate: int = 8000) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(struct.pack("<h", 0) * int(seconds * rate))
    return buf.getvalue()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as requests' sessions expect
    server_version = "FakeSpotify/1.0"

    def _serve(self) -> None:
        path, _, raw_query = self.path.partition("?")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        req = Request(self.command, path, raw_query, self.headers, body)
        resp = self.server.fake.handle(req)  # type: ignore[attr-defined]
        self.send_response(resp.status)
        self.send_header("Content-Type", resp.content_type)
        self.send_header("Content-Length", str(len(resp.body)))
        for key, value in resp.headers.items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(resp.body)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        logger.debug("%s " + format, self.address_string(), *args)
