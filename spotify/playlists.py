"""Save recommendations as a Spotify playlist, or as CSV for people without Spotify.

Saving uses the February-2026 endpoints (spotipy 2.26): ``POST /me/playlists`` to create, then
``POST /playlists/{id}/items`` in chunks of at most 100 URIs (Spotify's per-request limit), so
250 tracks take three item requests and keep their order. Re-saving to a playlist the listener
owns (found by id, e.g. remembered by the app) replaces its items: ``PUT`` with the first 100,
then ``POST`` the rest. A remembered playlist that is gone or not the listener's gets a new one.

CSV lives here too (:func:`tracks_to_csv`), so the app's Playlists page has one module to call.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import spotipy

from spotify.errors import SpotifyRefused
from spotify.ids import playlist_url, track_uri, track_url

CHUNK = 100


@dataclass(frozen=True)
class SavedPlaylist:
    """The playlist as saved: ``created`` is False when an existing one was replaced."""

    id: str
    url: str
    name: str
    n_tracks: int
    snapshot_id: str | None
    created: bool


def _chunks(items: Sequence[str], size: int = CHUNK) -> list[list[str]]:
    return [list(items[i: i + size]) for i in range(0, len(items), size)]


def _owned(sp: spotipy.Spotify, playlist_id: str) -> Mapping[str, Any] | None:
    """The playlist when it exists and the signed-in listener owns it, else None."""
    try:
        playlist = sp.playlist(playlist_id, fields="id,name,owner(id),external_urls,snapshot_id")
    except SpotifyRefused as exc:
        if exc.status in (403, 404):
            return None
        raise
    owner = (playlist.get("owner") or {}).get("id")
    return playlist if owner and owner == sp.me().get("id") else None


def find_playlist(sp: spotipy.Spotify, name: str, *, max_items: int = 500) -> str | None:
    """The id of the listener's own playlist called ``name`` (newest first), or None."""
    me = sp.me().get("id")
    page = sp.current_user_playlists(limit=50)
    seen = 0
    while page and seen < max_items:
        for pl in page.get("items") or []:
            if pl and pl.get("name") == name and (pl.get("owner") or {}).get("id") == me:
                return pl.get("id")
        seen += len(page.get("items") or [])
        page = sp.next(page) if page.get("next") else None
    return None


def save_playlist(sp: spotipy.Spotify, tracks: Sequence[str], *, name: str, description: str = "",
                  public: bool = False, playlist_id: str | None = None) -> SavedPlaylist:
    """Create (or, given ``playlist_id`` of an owned playlist, replace) a playlist of ``tracks``.

    Parameters
    ----------
    sp
        A signed-in client (scopes ``playlist-modify-private``/``-public``).
    tracks
        Track ids, ``spotify:track:`` URIs or open.spotify.com track URLs, in playlist order.
    name, description, public
        Used when a playlist is created; an existing playlist keeps its own.
    playlist_id
        A playlist saved before; its items are replaced when the listener still owns it.

    Returns
    -------
    SavedPlaylist
        With the playlist's open.spotify.com URL.
    """
    if not name.strip():
        raise ValueError("a playlist needs a name")
    uris = [track_uri(t) for t in tracks]
    existing = _owned(sp, playlist_id) if playlist_id else None
    snapshot: str | None
    if existing is None:
        playlist = sp.current_user_playlist_create(name, public=public, description=description)
        snapshot = playlist.get("snapshot_id")
        for chunk in _chunks(uris):
            snapshot = (sp.playlist_add_items(playlist["id"], chunk) or {}).get("snapshot_id", snapshot)
    else:
        playlist = existing
        chunks = _chunks(uris) or [[]]  # an empty PUT clears the playlist
        snapshot = (sp.playlist_replace_items(playlist["id"], chunks[0]) or {}).get("snapshot_id")
        for chunk in chunks[1:]:
            snapshot = (sp.playlist_add_items(playlist["id"], chunk) or {}).get("snapshot_id", snapshot)
    url = (playlist.get("external_urls") or {}).get("spotify") or playlist_url(playlist["id"])
    return SavedPlaylist(id=playlist["id"], url=url, name=playlist.get("name") or name, n_tracks=len(uris),
                         snapshot_id=snapshot, created=existing is None)


# -- CSV -----------------------------------------------------------------------------------
CSV_COLUMNS = ("position", "track_id", "title", "artists", "spotify_url")


def _field(row: Any, *names: str) -> Any:
    for name in names:
        value = row.get(name) if isinstance(row, Mapping) else getattr(row, name, None)
        if value not in (None, ""):
            return value
    return None


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    # Spreadsheets run cells starting with these as formulas (CSV injection); quote them as text.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def tracks_to_csv(tracks: Iterable[Any]) -> str:
    """CSV text (``position, track_id, title, artists, spotify_url``) of tracks in order.

    Each track is a mapping or an object with ``track_id`` and ``title``/``name`` and
    ``artists`` (a sequence) or ``artist``; missing fields stay empty.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for position, row in enumerate(tracks, start=1):
        track_id = _field(row, "track_id", "id")
        artists = _field(row, "artists", "artist_names", "artist") or ""
        if not isinstance(artists, str):
            artists = ", ".join(str(a) for a in artists)
        writer.writerow([position, _cell(track_id), _cell(_field(row, "title", "name")), _cell(artists),
                         track_url(track_id) or ""])
    return out.getvalue()
