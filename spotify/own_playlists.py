"""The listener's own playlists: list them, read one, append tracks to one (spotipy 2.26).

- :func:`list_playlists`: ``GET /me/playlists`` (``current_user_playlists``, 50 a page, following
  ``next``), at most ``max_items`` read. It needs ``playlist-read-private`` for private
  playlists. Only playlists the listener owns or collaborates on are kept: those are the ones a
  development-mode app may read, and the only ones tracks can be added to.
- :func:`read_playlist`: ``GET /playlists/{id}/items`` (``playlist_items``, 50 a page), at most
  ``max_items`` entries. Entries carry the track under ``item`` (2026) or ``track`` (older);
  local files and podcast episodes cannot be matched or re-added, so they are skipped and
  counted, as are entries that are empty or unreadable.
- :func:`append_tracks`: ``POST /playlists/{id}/items`` (``playlist_add_items``) in chunks of at
  most 100 URIs (Spotify's per-request limit), appended in order at the end.

Every failure is a :class:`~spotify.errors.SpotifyError` with a sentence (``spotify.client``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import spotipy

from spotify.errors import SpotifyError, SpotifyRefused
from spotify.history import TrackInfo, all_pages, entry_track, track_info
from spotify.ids import is_open_spotify_url, is_spotify_id, playlist_url, track_uri
from spotify.playlists import CHUNK

PAGE_SIZE = 50  # the API's maximum for both listings
MAX_PLAYLISTS = 200
MAX_ITEMS = 1000


@dataclass(frozen=True)
class OwnPlaylist:
    """One of the listener's playlists as ``GET /me/playlists`` lists it.

    ``owned``: the listener owns it (else they collaborate on it); ``n_items`` is Spotify's count
    (``items.total``, or the deprecated ``tracks.total``).
    """

    id: str
    name: str
    n_items: int
    owned: bool
    public: bool | None
    snapshot_id: str | None
    url: str

    @property
    def label(self) -> str:
        """``"Road trip · 12 songs"`` (plain text)."""
        return f"{self.name} · {self.n_items:,} song{'s' if self.n_items != 1 else ''}"


@dataclass(frozen=True)
class PlaylistContents:
    """A playlist's readable tracks in order, and what was skipped (counts, per reason).

    ``tracks`` keeps repeats (a track listed twice is there twice); ``total`` is the entry count
    Spotify reported; ``truncated`` says reading stopped at the ``max_items`` bound.
    """

    playlist_id: str
    tracks: tuple[TrackInfo, ...]
    skipped_local: int = 0
    skipped_episodes: int = 0
    skipped_unreadable: int = 0
    total: int = 0
    truncated: bool = False

    @property
    def skipped(self) -> int:
        """Entries left out, for any reason."""
        return self.skipped_local + self.skipped_episodes + self.skipped_unreadable

    def skipped_sentence(self) -> str | None:
        """``"Left out: 1 local file, 2 podcast episodes."`` (None when nothing was)."""
        kinds = ((self.skipped_local, "local file", "local files"),
                 (self.skipped_episodes, "podcast episode", "podcast episodes"),
                 (self.skipped_unreadable, "unreadable entry", "unreadable entries"))
        parts = [f"{n} {one if n == 1 else many}" for n, one, many in kinds if n]
        text = f"Left out: {', '.join(parts)}." if parts else ""
        if self.truncated:
            read = len(self.tracks) + self.skipped
            text = f"{text} Only the first {read:,} of {self.total:,} entries were read.".strip()
        return text or None


def _owner(playlist: Mapping[str, Any]) -> str | None:
    owner = playlist.get("owner")
    return owner.get("id") if isinstance(owner, Mapping) else None


def _count(playlist: Mapping[str, Any]) -> int:
    for key in ("items", "tracks"):
        ref = playlist.get(key)
        if isinstance(ref, Mapping) and isinstance(ref.get("total"), int):
            return int(ref["total"])
    return 0


def list_playlists(sp: spotipy.Spotify, *, max_items: int = MAX_PLAYLISTS) -> list[OwnPlaylist]:
    """The playlists the signed-in listener owns or collaborates on, in Spotify's order (newest first).

    Reads at most ``max_items`` listed playlists (``max_items / 50`` requests); entries that are
    not objects with an id and a name are passed over.
    """
    me = sp.me().get("id")
    first = sp.current_user_playlists(limit=PAGE_SIZE, offset=0)
    out = []
    for pl in all_pages(sp, first, max_items=max_items):
        if not isinstance(pl, Mapping) or not isinstance(pl.get("id"), str) or not isinstance(pl.get("name"), str):
            continue
        owned = bool(me) and _owner(pl) == me
        if not (owned or pl.get("collaborative") is True):
            continue  # followed, not theirs: neither readable (development mode) nor editable
        links = pl.get("external_urls")
        link = links.get("spotify") if isinstance(links, Mapping) else None
        url = link if isinstance(link, str) and is_open_spotify_url(link) else playlist_url(pl["id"])
        out.append(OwnPlaylist(
            id=pl["id"], name=pl["name"], n_items=_count(pl), owned=owned,
            public=pl.get("public") if isinstance(pl.get("public"), bool) else None,
            snapshot_id=pl.get("snapshot_id") if isinstance(pl.get("snapshot_id"), str) else None,
            url=url))
    return out


def read_playlist(sp: spotipy.Spotify, playlist_id: str, *, max_items: int = MAX_ITEMS) -> PlaylistContents:
    """The tracks of one playlist in order, at most ``max_items`` entries read (50 a request).

    Local files (``is_local``), episodes (``type: episode``) and entries without a readable
    track are skipped and counted in the result.
    """
    first = sp.playlist_items(playlist_id, limit=PAGE_SIZE, offset=0, additional_types=("track", "episode"))
    total = int(first.get("total") or 0) if isinstance(first, Mapping) else 0
    entries = all_pages(sp, first, max_items=max_items)
    tracks: list[TrackInfo] = []
    local = episodes = unreadable = 0
    for entry in entries:
        obj = entry_track(entry)
        if isinstance(entry, Mapping) and entry.get("is_local") or isinstance(obj, Mapping) and obj.get("is_local"):
            local += 1
            continue
        if isinstance(obj, Mapping) and obj.get("type") == "episode":
            episodes += 1
            continue
        info = track_info(obj)
        if info is None or not is_spotify_id(info.track_id):
            unreadable += 1
            continue
        tracks.append(info)
    return PlaylistContents(playlist_id, tuple(tracks), local, episodes, unreadable,
                            total=max(total, len(entries)), truncated=total > len(entries))


def append_tracks(sp: spotipy.Spotify, playlist_id: str, tracks: Sequence[str]) -> str | None:
    """Append ``tracks`` (ids, URIs or open.spotify.com links) at the end of the playlist, in
    order, in chunks of at most 100; returns the last ``snapshot_id``.

    A playlist the listener may not change (someone else's, 403) is refused with a sentence.
    """
    uris = [track_uri(t) for t in tracks]
    snapshot: str | None = None
    for start in range(0, len(uris), CHUNK):
        try:
            answer = sp.playlist_add_items(playlist_id, uris[start:start + CHUNK])
        except SpotifyError as exc:
            done = f" {start} of the {len(uris)} songs were added before that." if start else ""
            if isinstance(exc, SpotifyRefused) and exc.status == 403:
                raise SpotifyRefused("Spotify did not allow adding songs to this playlist (HTTP 403): only "
                                     f"playlists you own or collaborate on can be extended.{done}", status=403) from exc
            if done:
                raise type(exc)(f"{exc}{done}") from exc
            raise
        snapshot = (answer or {}).get("snapshot_id", snapshot)
    return snapshot
