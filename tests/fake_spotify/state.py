"""The fake's mutable records: tokens, authorization codes, scripted failures, received requests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Every scope the fake knows (a request for any other is refused with ``invalid_scope``).
KNOWN_SCOPES = frozenset({
    "user-top-read", "user-read-recently-played", "user-library-read", "user-library-modify",
    "playlist-read-private", "playlist-read-collaborative", "playlist-modify-private",
    "playlist-modify-public", "user-read-private", "user-read-email",
    "user-read-playback-state", "user-modify-playback-state", "user-read-currently-playing",
    "user-follow-read", "user-follow-modify", "streaming", "ugc-image-upload",
})
#: client id -> client secret (None: a client that may only use PKCE).
DEFAULT_CLIENTS: dict[str, str | None] = {"fake-client-id": "fake-client-secret"}
ACCESS_TTL_S = 3600
CODE_TTL_S = 600


@dataclass(frozen=True)
class RecordedRequest:
    """What the fake received (and answered)."""

    method: str
    path: str
    url: str
    query: dict[str, list[str]]
    json: Any
    form: dict[str, str]
    user: str | None
    status: int


@dataclass
class Token:
    value: str
    user: str | None
    client_id: str
    scopes: frozenset[str]
    expires_at: float


@dataclass
class AuthCode:
    value: str
    user: str
    client_id: str
    redirect_uri: str
    scopes: frozenset[str]
    challenge: str | None
    expires_at: float
    used: bool = False


@dataclass
class Injected:
    """A scripted failure for the next ``remaining`` requests whose path starts with ``prefix``."""

    status: int
    remaining: int
    retry_after: str | None
    prefix: str
    message: str


@dataclass
class State:
    access: dict[str, Token] = field(default_factory=dict)
    refresh: dict[str, Token] = field(default_factory=dict)
    codes: dict[str, AuthCode] = field(default_factory=dict)
    failures: list[Injected] = field(default_factory=list)
    requests: list[RecordedRequest] = field(default_factory=list)
