"""Requests, responses and the two error shapes of the fake (Web API and OAuth)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs


class ApiError(Exception):
    """A Web API error: ``{"error": {"status": ..., "message": ...}}``."""

    def __init__(self, status: int, message: str, *, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})

    def response(self) -> "Response":
        return Response.json(self.status, {"error": {"status": self.status, "message": self.message}},
                             headers=self.headers)


class OAuthError(Exception):
    """An accounts-service error: ``{"error": ..., "error_description": ...}``."""

    def __init__(self, error: str, description: str, *, status: int = 400) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description

    def response(self) -> "Response":
        return Response.json(self.status, {"error": self.error, "error_description": self.description})


@dataclass
class Request:
    """One HTTP request as the fake sees it."""

    method: str
    path: str
    raw_query: str
    headers: Mapping[str, str]
    body: bytes = b""
    query: dict[str, list[str]] = field(init=False)

    def __post_init__(self) -> None:
        self.query = parse_qs(self.raw_query, keep_blank_values=True)

    @property
    def url(self) -> str:
        """Path and query exactly as received."""
        return self.path + (f"?{self.raw_query}" if self.raw_query else "")

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def int_arg(self, name: str, default: int, *, lo: int, hi: int) -> int:
        """An integer query parameter within [lo, hi]; otherwise 400 ``Invalid <name>``."""
        raw = self.arg(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ApiError(400, f"Invalid {name}") from None
        if not lo <= value <= hi:
            raise ApiError(400, f"Invalid {name}")
        return value

    def json(self) -> Any:
        """The JSON body, or None when there is none; 400 on malformed JSON."""
        if not self.body.strip():
            return None
        try:
            return json.loads(self.body)
        except ValueError:
            raise ApiError(400, "Error parsing JSON.") from None

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode("utf-8", "replace")).items()}

    def bearer(self) -> str | None:
        auth = self.headers.get("Authorization") or ""
        return auth[7:].strip() if auth.startswith("Bearer ") else None


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, obj: Any, *, headers: Mapping[str, str] | None = None) -> "Response":
        return cls(status, json.dumps(obj).encode("utf-8"), headers=dict(headers or {}))

    @classmethod
    def redirect(cls, location: str) -> "Response":
        return cls(302, b"", "text/plain", {"Location": location})

    @classmethod
    def html(cls, status: int, text: str) -> "Response":
        return cls(status, text.encode("utf-8"), "text/html; charset=utf-8")
