"""The fake accounts service: ``/authorize`` (consent) and ``/api/token`` (all grants the app uses).

``/authorize`` checks the client, redirect URI, scopes and PKCE challenge, then either approves
at once (``FakeSpotify.auto_approve`` = a seeded user id) or shows a small page to pick a seeded
user (``/authorize/approve?...&user=bob``) or deny (``/authorize/deny?...``). It redirects back
with ``code`` and ``state``, or with ``error=access_denied``, as Spotify does.
``/api/token`` accepts ``authorization_code`` (client secret by HTTP Basic, or PKCE with
``code_verifier`` checked against the S256 ``code_challenge``), ``refresh_token`` (PKCE refresh
tokens are rotated; secret-client refreshes omit ``refresh_token`` as Spotify often does) and
``client_credentials``.
"""

from __future__ import annotations

import base64
import hashlib
import html
import secrets
import time
from typing import TYPE_CHECKING
from urllib.parse import urlencode, urlsplit

from tests.fake_spotify.state import CODE_TTL_S, KNOWN_SCOPES, AuthCode
from tests.fake_spotify.wire import OAuthError, Request, Response

if TYPE_CHECKING:
    from tests.fake_spotify.server import FakeSpotify


def _page(status: int, title: str, body: str) -> Response:
    return Response.html(status, f"<!doctype html><title>{html.escape(title)}</title>"
                                 f"<h1>{html.escape(title)}</h1>{body}")


def _redirect_back(redirect_uri: str, params: dict[str, str | None]) -> Response:
    clean = {k: v for k, v in params.items() if v is not None}
    sep = "&" if "?" in redirect_uri else "?"
    return Response.redirect(f"{redirect_uri}{sep}{urlencode(clean)}")


def authorize(fake: "FakeSpotify", req: Request) -> Response:
    """``GET /authorize`` and the fake's approve/deny steps."""
    client_id = req.arg("client_id") or ""
    redirect_uri = req.arg("redirect_uri") or ""
    state = req.arg("state")
    if client_id not in fake.clients:
        return _page(400, "INVALID_CLIENT: Invalid client", "")
    parts = urlsplit(redirect_uri)
    loopback = parts.scheme == "http" and parts.hostname in ("127.0.0.1", "::1")
    if not redirect_uri or not (parts.scheme == "https" or loopback):
        # Spotify refuses localhost and plain-http non-loopback redirect URIs since 2025.
        return _page(400, "INVALID_CLIENT: Insecure redirect URI", "")
    if req.arg("response_type") != "code":
        return _redirect_back(redirect_uri, {"error": "unsupported_response_type", "state": state})
    scopes = frozenset((req.arg("scope") or "").split())
    if scopes - KNOWN_SCOPES:
        return _redirect_back(redirect_uri, {"error": "invalid_scope", "state": state})
    challenge = req.arg("code_challenge")
    if challenge is not None and req.arg("code_challenge_method") != "S256":
        return _redirect_back(redirect_uri, {"error": "invalid_request", "state": state})

    if req.path == "/authorize/deny":
        return _redirect_back(redirect_uri, {"error": "access_denied", "state": state})
    user = req.arg("user") if req.path == "/authorize/approve" else fake.auto_approve
    if user is None:
        return _consent_page(fake, req)
    if user not in fake.seed.users:
        return _page(400, f"Unknown fake user {user}", "")
    code = AuthCode("AQ" + secrets.token_urlsafe(48), user, client_id, redirect_uri, scopes,
                    challenge, time.time() + CODE_TTL_S)
    fake.store_code(code)
    return _redirect_back(redirect_uri, {"code": code.value, "state": state})


def _consent_page(fake: "FakeSpotify", req: Request) -> Response:
    links = "".join(
        f'<li><a href="/authorize/approve?{html.escape(req.raw_query)}&amp;user={html.escape(u.id)}">'
        f"Agree as {html.escape(u.display_name)} ({html.escape(u.id)})</a></li>"
        for u in fake.seed.users.values())
    scopes = html.escape(req.arg("scope") or "(none)")
    return _page(200, "Fake Spotify: sign in",
                 f"<p>The app asks for: {scopes}</p><ul>{links}</ul>"
                 f'<p><a href="/authorize/deny?{html.escape(req.raw_query)}">Cancel</a></p>')


def _client(fake: "FakeSpotify", req: Request, form: dict[str, str]) -> tuple[str, bool]:
    """(client_id, authenticated with its secret)."""
    auth = req.headers.get("Authorization") or ""
    if auth.startswith("Basic "):
        try:
            client_id, _, secret = base64.b64decode(auth[6:]).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            raise OAuthError("invalid_client", "Invalid client") from None
        if client_id not in fake.clients:
            raise OAuthError("invalid_client", "Invalid client")
        if fake.clients[client_id] is None or not secrets.compare_digest(secret, fake.clients[client_id] or ""):
            raise OAuthError("invalid_client", "Invalid client secret")
        return client_id, True
    client_id = form.get("client_id", "")
    if client_id not in fake.clients:
        raise OAuthError("invalid_client", "Invalid client")
    return client_id, False


def token(fake: "FakeSpotify", req: Request) -> tuple[Response, str | None]:
    """``POST /api/token``; returns the response and the user the grant belongs to."""
    if req.method != "POST":
        raise OAuthError("invalid_request", "Only POST is supported", status=405)
    if "application/x-www-form-urlencoded" not in (req.headers.get("Content-Type") or ""):
        raise OAuthError("invalid_request", "Content-Type must be application/x-www-form-urlencoded")
    form = req.form()
    client_id, authenticated = _client(fake, req, form)
    grant = form.get("grant_type")
    if grant == "authorization_code":
        code = fake.take_code(form.get("code", ""))
        if code is None or code.used or code.expires_at < time.time() or code.client_id != client_id:
            raise OAuthError("invalid_grant", "Invalid authorization code")
        if form.get("redirect_uri") != code.redirect_uri:
            raise OAuthError("invalid_grant", "Invalid redirect URI")
        verifier = form.get("code_verifier")
        if code.challenge is not None:
            if not verifier:
                raise OAuthError("invalid_request", "code_verifier required")
            digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
            if base64.urlsafe_b64encode(digest).decode().rstrip("=") != code.challenge:
                raise OAuthError("invalid_grant", "code_verifier was incorrect")
        elif not authenticated:
            raise OAuthError("invalid_client", "Invalid client")
        code.used = True
        body = fake.issue_tokens(user=code.user, client_id=client_id, scopes=code.scopes)
        return Response.json(200, body), code.user
    if grant == "refresh_token":
        old = fake.refresh_token(form.get("refresh_token", ""))
        if old is None or old.client_id != client_id:
            raise OAuthError("invalid_grant", "Invalid refresh token")
        body = fake.issue_tokens(user=old.user, client_id=client_id, scopes=old.scopes,
                                 with_refresh=not authenticated)
        if not authenticated:  # PKCE refresh tokens are single-use and rotated
            fake.revoke_refresh(old.value)
        return Response.json(200, body), old.user
    if grant == "client_credentials":
        if not authenticated:
            raise OAuthError("invalid_client", "Invalid client")
        body = fake.issue_tokens(user=None, client_id=client_id, scopes=frozenset(), with_refresh=False)
        body.pop("scope", None)
        return Response.json(200, body), None
    raise OAuthError("unsupported_grant_type", f"grant_type must be authorization_code, "
                                               f"refresh_token or client_credentials, not {grant!r}")
