"""Spotify ids, track URIs and open.spotify.com links: the one home of their shapes.

A Spotify id is 22 base-62 characters (``[0-9A-Za-z]{22}``), matched whole (``fullmatch``):
``"…\\n"`` or ``"…/"`` is not an id. Only ids of that shape ever become a URI, an embed
player or a link.
"""

from __future__ import annotations

import re

ID_PATTERN = r"[0-9A-Za-z]{22}"
TRACK_URI_PREFIX = "spotify:track:"
OPEN_SPOTIFY = "https://open.spotify.com/"
TRACK_URL = OPEN_SPOTIFY + "track/{}"
EMBED_URL = OPEN_SPOTIFY + "embed/track/{}"
PLAYLIST_URL = OPEN_SPOTIFY + "playlist/{}"

_ID = re.compile(ID_PATTERN)
_TRACK_LINK = re.compile(rf"https://open\.spotify\.com/(?:intl-[a-z-]+/)?track/({ID_PATTERN})(?:[/?#].*)?")


def is_spotify_id(value: object) -> bool:
    """True for a string of exactly 22 base-62 characters (nothing before or after)."""
    return isinstance(value, str) and _ID.fullmatch(value) is not None


def track_uri(value: str) -> str:
    """A ``spotify:track:<id>`` URI from an id, URI or open.spotify.com URL; ValueError names the value."""
    text = (value or "").strip()
    if is_spotify_id(text):
        return TRACK_URI_PREFIX + text
    if text.startswith(TRACK_URI_PREFIX) and is_spotify_id(text[len(TRACK_URI_PREFIX):]):
        return text
    match = _TRACK_LINK.fullmatch(text)
    if match:
        return TRACK_URI_PREFIX + match.group(1)
    raise ValueError(f"not a Spotify track id: {value!r}")


def track_id_of_uri(uri: object) -> str | None:
    """The id of a ``spotify:track:<id>`` URI; None when it is not one of that shape."""
    if not isinstance(uri, str) or not uri.startswith(TRACK_URI_PREFIX):
        return None
    track_id = uri[len(TRACK_URI_PREFIX):]
    return track_id if is_spotify_id(track_id) else None


def track_url(track_id: object) -> str | None:
    """The open.spotify.com page of a track, only for Spotify-shaped ids."""
    return TRACK_URL.format(track_id) if is_spotify_id(track_id) else None


def embed_url(track_id: object) -> str | None:
    """Spotify's embed-player URL of a track, only for Spotify-shaped ids."""
    return EMBED_URL.format(track_id) if is_spotify_id(track_id) else None


def playlist_url(playlist_id: str) -> str:
    """The open.spotify.com page of a playlist."""
    return PLAYLIST_URL.format(playlist_id)


def is_open_spotify_url(url: object) -> bool:
    """True for a link into open.spotify.com (safe to render as a Markdown link)."""
    return isinstance(url, str) and url.startswith(OPEN_SPOTIFY)
