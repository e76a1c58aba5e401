"""Share codes: a listener's top tracks and artists in one signed, expiring string (no Streamlit).

A Blend needs the second listener's taste in the first listener's session. The app keeps no
account data for that (a listener's data is keyed by a salted hash and "Forget me" deletes
it), so the code carries the taste itself: the ``MAX_TRACKS`` most weighted track ids of the
history the recommender uses (after likes, dislikes and what was left out), the ``MAX_ARTISTS``
most weighted artist-only matches, their weights (3 significant digits) and an optional name
the listener types. Nothing is stored when a code is made or read.

Format: ``mr1.`` + an ``itsdangerous`` URL-safe timed token (compact JSON, zlib when it is
shorter, base64url, the signing time, HMAC-SHA256 under a key derived from
``APP_STATE_SECRET`` with this module's salt). itsdangerous, a Pallets library, does the
signing, the timestamp and the encoding, so nothing of that is hand-written here. A code is
valid for ``TTL_S`` (7 days) and at most ``MAX_CODE_CHARS`` long; the signature is checked
before anything is decompressed or parsed, so an unsigned zip bomb is never opened. Without
``APP_STATE_SECRET`` a random per-process secret signs the codes (they then stop working when
the app restarts), as for the Spotify sign-in state.

Every refusal is a :class:`ShareCodeError` whose text is one sentence: garbage, too long,
another version, a changed (or another app's) code, an expired code.
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from itsdangerous import BadData, BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from engine.serving.listening import Listening, artist_weights_of
from engine.serving.options import MAX_WEIGHT

VERSION = 1
PREFIX = f"mr{VERSION}."
#: A code is valid this long after it is made.
TTL_S = 7 * 24 * 3600
MAX_TRACKS = 50
MAX_ARTISTS = 25
MAX_NAME = 40
#: The largest code accepted (a full code is about 2,000 characters).
MAX_CODE_CHARS = 6_000
_SALT = "music-recommender/share-code"
_TOKEN = re.compile(r"^\.?[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")
_OTHER_VERSION = re.compile(r"^mr(\d+)\.")
#: Longest track id or artist key (artist-only matches may be keyed by a catalogue name).
MAX_KEY = 200
_PROCESS_SECRET = secrets.token_bytes(32)


class ShareCodeError(ValueError):
    """A share code that cannot be used; the message is one sentence to show."""


@dataclass(frozen=True)
class SharedTaste:
    """What a share code carries: track and artist weights, a name, and when it expires."""

    tracks: Mapping[str, float] = field(default_factory=dict)
    artists: Mapping[str, float] = field(default_factory=dict)
    name: str = ""
    expires: datetime | None = None

    def listening(self) -> Listening:
        """The taste as the recommender reads it."""
        return Listening(tracks=dict(self.tracks), artists=dict(self.artists))


def _round(value: float) -> float:
    """Three significant digits: enough for a weight, and the code stays short."""
    return float(f"{value:.3g}")


def _top(weights: Mapping[str, float], n: int) -> list[list[Any]]:
    best = sorted(((str(k), float(v)) for k, v in weights.items() if v > 0), key=lambda kv: (-kv[1], kv[0]))
    return [[k, _round(v)] for k, v in best[:n]]


class ShareCodec:
    """Makes and reads share codes with one secret (``clock`` is for tests)."""

    def __init__(self, secret: str, *, clock: Callable[[], float] = time.time, ttl_s: int = TTL_S) -> None:
        outer = self

        class _Signer(TimestampSigner):
            def get_timestamp(self) -> int:
                return int(outer._clock())

        self._clock = clock
        self.ttl_s = int(ttl_s)
        key: str | bytes = secret or _PROCESS_SECRET
        self._serializer = URLSafeTimedSerializer(
            key, salt=_SALT, signer=_Signer,
            signer_kwargs={"key_derivation": "hmac", "digest_method": hashlib.sha256},
        )

    def make(self, history: Mapping[str, float], *, name: str = "") -> str:
        """The share code of ``history`` (track id -> raw weight; a ``Listening`` brings its
        artist-only weights too): its top tracks and artists, signed, valid for ``ttl_s``."""
        payload = {"v": VERSION, "t": _top(history, MAX_TRACKS), "a": _top(artist_weights_of(history), MAX_ARTISTS),
                   "n": " ".join(str(name).split())[:MAX_NAME]}
        return PREFIX + self._serializer.dumps(payload)

    def expires_at(self) -> datetime:
        """When a code made now expires."""
        return datetime.fromtimestamp(int(self._clock()) + self.ttl_s, tz=UTC)

    def read(self, code: str) -> SharedTaste:
        """The taste in ``code``; :class:`ShareCodeError` (one sentence) when it cannot be used."""
        text = "".join(str(code).split())  # a code pasted across lines still reads
        if len(text) > MAX_CODE_CHARS:
            raise ShareCodeError(f"This share code is too long ({len(text):,} characters; a code has at most "
                                 f"{MAX_CODE_CHARS:,}): paste exactly the code you were given.")
        other = _OTHER_VERSION.match(text)
        if other and other.group(1) != str(VERSION):
            raise ShareCodeError(f"This share code was made by another version of the app (version {other.group(1)}, "
                                 f"this one reads version {VERSION}): ask for a new code.")
        token = text[len(PREFIX):] if text.startswith(PREFIX) else ""
        if not _TOKEN.match(token):
            raise ShareCodeError("This is not a share code of this app: paste the whole code, starting with "
                                 f"“{PREFIX}”.")
        try:
            payload, signed = self._serializer.loads(token, max_age=self.ttl_s, return_timestamp=True)
        except SignatureExpired as exc:
            when = exc.date_signed.strftime("%Y-%m-%d") if exc.date_signed else "an unknown date"
            raise ShareCodeError(f"This share code expired (it was made on {when} and codes last "
                                 f"{self.ttl_s // 86400} days): ask for a new one.") from None
        except BadSignature:
            raise ShareCodeError("This share code does not check out: it was changed after it was made, or another "
                                 "copy of the app made it, so it cannot be used.") from None
        except BadData:
            raise ShareCodeError("This share code could not be read: ask for a new one.") from None
        taste = _taste(payload)
        expires = datetime.fromtimestamp(signed.timestamp() + self.ttl_s, tz=UTC)
        return SharedTaste(tracks=taste.tracks, artists=taste.artists, name=taste.name, expires=expires)


def _taste(payload: Any) -> SharedTaste:
    """The checked contents of a signed payload (signed by this app, but checked all the same)."""
    if not isinstance(payload, dict) or payload.get("v") != VERSION:
        raise ShareCodeError("This share code could not be read: ask for a new one.")

    def weights(key: str, limit: int) -> dict[str, float]:
        rows = payload.get(key)
        if not isinstance(rows, list) or len(rows) > limit:
            raise ShareCodeError("This share code could not be read: ask for a new one.")
        out: dict[str, float] = {}
        for row in rows:
            ok = (isinstance(row, list) and len(row) == 2 and isinstance(row[0], str)
                  and 0 < len(row[0]) <= MAX_KEY and row[0].isprintable()
                  and isinstance(row[1], (int, float)) and not isinstance(row[1], bool)
                  and math.isfinite(row[1]) and 0 < row[1] <= MAX_WEIGHT)
            if not ok:
                raise ShareCodeError("This share code could not be read: ask for a new one.")
            out[row[0]] = float(row[1])
        return out

    name = payload.get("n", "")
    return SharedTaste(tracks=weights("t", MAX_TRACKS), artists=weights("a", MAX_ARTISTS),
                       name=" ".join(name.split())[:MAX_NAME] if isinstance(name, str) else "")
