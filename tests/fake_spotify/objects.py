"""Spotify Web API JSON objects (TrackObject, PagingObject, PlaylistObject...) as the fake returns them.

Shapes follow Spotify's 2026 Web API OpenAPI spec (the reference at
developer.spotify.com/documentation/web-api; a community copy with fixes is
github.com/sonallux/spotify-web-api). With ``dev_mode`` on (the default), fields Spotify removed
for development-mode apps in February 2026 are left out (``popularity``, ``available_markets``,
``linked_from``; ``country``/``email``/``product``/``followers`` on users; ``followers``/
``genres``/``popularity`` on artists), ``preview_url`` is null for most tracks, and playlist
entries carry ``item`` but not the deprecated ``track`` key. :func:`select_fields` applies a
playlist request's ``fields`` filter.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any
from urllib.parse import quote, unquote_plus, urlencode

from tests.fake_spotify.seed import SeedPlaylist, Track, User, spotify_id

OPEN = "https://open.spotify.com"


def _bucket(key: str, n: int) -> int:
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % n


def images(base: str, key: str) -> list[dict[str, Any]]:
    """Three album-art sizes, served by the fake itself so the app works offline."""
    return [{"url": f"{base}/_test/image/{key}.svg?size={s}", "height": s, "width": s}
            for s in (640, 300, 64)]


def artist_simplified(base: str, artist_id: str | None, name: str) -> dict[str, Any]:
    return {
        "external_urls": {"spotify": f"{OPEN}/artist/{artist_id}"} if artist_id else {},
        "href": f"{base}/v1/artists/{artist_id}" if artist_id else None,
        "id": artist_id,
        "name": name,
        "type": "artist",
        "uri": f"spotify:artist:{artist_id}" if artist_id else None,
    }


def artist_object(base: str, artist_id: str, name: str, *, dev_mode: bool) -> dict[str, Any]:
    """A full ArtistObject (what ``/me/top/artists`` lists)."""
    obj: dict[str, Any] = {
        "external_urls": {"spotify": f"{OPEN}/artist/{artist_id}"},
        "href": f"{base}/v1/artists/{artist_id}",
        "id": artist_id,
        "images": images(base, "artist-" + artist_id),
        "name": name,
        "type": "artist",
        "uri": f"spotify:artist:{artist_id}",
    }
    if not dev_mode:
        obj.update(followers={"href": None, "total": 1000 + _bucket(artist_id, 90_000)}, genres=[],
                   popularity=_bucket(artist_id + ":pop", 100))
    return obj


def local_track(uri: str) -> Track:
    """A local file as Spotify lists it in playlists: ``spotify:local:artist:album:title:seconds``."""
    parts = (uri.split(":") + [""] * 6)[2:6]
    artist, _album, title, seconds = (unquote_plus(p) for p in parts)
    return Track("", title or "Local file", (), (artist,) if artist else (), "1900", int(seconds or 0) * 1000,
                 False, None, in_catalogue=False, is_local=True)


def unknown_track(track_id: str) -> Track:
    """A stub for a well-formed id the fake was never seeded with (e.g. from the full catalogue)."""
    return Track(track_id, f"Track {track_id[:6]}", (spotify_id("artist:" + track_id),),
                 (f"Artist {track_id[:4]}",), "2020", 200_000, False, None, in_catalogue=False)


def track_object(t: Track, base: str, *, dev_mode: bool, uri: str | None = None) -> dict[str, Any]:
    """A full TrackObject (album included)."""
    if t.is_local:
        return {
            "album": {"album_type": None, "artists": [], "available_markets": [], "external_urls": {},
                      "href": None, "id": None, "images": [], "name": "", "release_date": None,
                      "release_date_precision": None, "type": "album", "uri": None},
            "artists": [artist_simplified(base, None, n) for n in t.artist_names],
            "available_markets": [], "disc_number": 0, "duration_ms": t.duration_ms,
            "explicit": False, "external_ids": {}, "external_urls": {}, "href": None, "id": None,
            "is_local": True, "name": t.name, "popularity": 0, "preview_url": None,
            "track_number": 0, "type": "track", "uri": uri,
        }
    album_id = spotify_id("album:" + t.id)
    precision = {4: "year", 7: "month"}.get(len(t.release_date), "day")
    artists = [artist_simplified(base, a, n) for a, n in zip(t.artist_ids, t.artist_names)]
    preview_every = 5 if dev_mode else 2
    obj: dict[str, Any] = {
        "album": {
            "album_type": "single", "artists": artists[:1], "external_urls": {"spotify": f"{OPEN}/album/{album_id}"},
            "href": f"{base}/v1/albums/{album_id}", "id": album_id, "images": images(base, album_id),
            "name": t.name, "release_date": t.release_date, "release_date_precision": precision,
            "total_tracks": 1, "type": "album", "uri": f"spotify:album:{album_id}",
        },
        "artists": artists,
        "disc_number": 1,
        "duration_ms": t.duration_ms,
        "explicit": t.explicit,
        "external_ids": {"isrc": f"XX{album_id[:10].upper()}"},
        "external_urls": {"spotify": f"{OPEN}/track/{t.id}"},
        "href": f"{base}/v1/tracks/{t.id}",
        "id": t.id,
        "is_local": False,
        "is_playable": True,
        "name": t.name,
        "preview_url": (f"{base}/_test/preview/{t.id}.wav"
                        if _bucket(t.id, preview_every) == 0 else None),
        "track_number": 1,
        "type": "track",
        "uri": f"spotify:track:{t.id}",
    }
    if dev_mode and _bucket(t.id + ":pop", 3) == 0:
        obj["popularity"] = None  # "often missing or null": serve both shapes
    if not dev_mode:
        obj["popularity"] = t.popularity if t.popularity is not None else 0
        obj["available_markets"] = ["DK", "NO", "SE", "US"]
        obj["album"]["available_markets"] = ["DK", "NO", "SE", "US"]
    return obj


def episode_object(uri: str, base: str) -> dict[str, Any]:
    """An EpisodeObject (a podcast episode in a playlist; ``additional_types=episode`` lists them)."""
    eid = uri.rsplit(":", 1)[-1]
    show_id = spotify_id("show:" + eid)
    return {
        "audio_preview_url": None, "description": "A seeded podcast episode", "duration_ms": 1_800_000,
        "explicit": False, "external_urls": {"spotify": f"{OPEN}/episode/{eid}"},
        "href": f"{base}/v1/episodes/{eid}", "id": eid, "images": images(base, "ep-" + eid),
        "is_externally_hosted": False, "is_playable": True, "language": "en", "languages": ["en"],
        "name": f"Episode {eid[:6]}", "release_date": "2025-11-03", "release_date_precision": "day",
        "show": {"id": show_id, "name": "A seeded show", "publisher": "Fake FM", "type": "show",
                 "uri": f"spotify:show:{show_id}", "href": f"{base}/v1/shows/{show_id}",
                 "external_urls": {"spotify": f"{OPEN}/show/{show_id}"}},
        "type": "episode", "uri": uri,
    }


def user_object(u: User, base: str, *, dev_mode: bool, private: bool) -> dict[str, Any]:
    """A PrivateUserObject (``private``: the caller's own profile) or a PublicUserObject."""
    obj: dict[str, Any] = {
        "display_name": u.display_name,
        "external_urls": {"spotify": f"{OPEN}/user/{u.id}"},
        "href": f"{base}/v1/users/{u.id}",
        "id": u.id,
        "images": images(base, "user-" + u.id)[:1],
        "type": "user",
        "uri": f"spotify:user:{u.id}",
    }
    if not dev_mode:
        obj["followers"] = {"href": None, "total": 3}
        if private:
            obj.update(country=u.country, email=u.email or None, product=u.product,
                       explicit_content={"filter_enabled": False, "filter_locked": False})
    return obj


def owner_object(u: User, base: str) -> dict[str, Any]:
    return {"display_name": u.display_name, "external_urls": {"spotify": f"{OPEN}/user/{u.id}"},
            "href": f"{base}/v1/users/{u.id}", "id": u.id, "type": "user", "uri": f"spotify:user:{u.id}"}


def url(base: str, path: str, params: dict[str, Any]) -> str:
    """An absolute URL on the fake (spotipy follows ``next`` as given, so it must be ours)."""
    clean = {k: v for k, v in params.items() if v is not None}
    return f"{base}{path}" + (f"?{urlencode(clean, quote_via=quote)}" if clean else "")


def paging(items: list[Any], *, base: str, path: str, limit: int, offset: int, total: int,
           params: dict[str, Any] | None = None) -> dict[str, Any]:
    """An offset PagingObject with absolute ``href``/``next``/``previous``."""
    params = dict(params or {})

    def link(off: int) -> str:
        return url(base, path, {"offset": off, "limit": limit, **params})

    return {
        "href": link(offset),
        "items": items,
        "limit": limit,
        "next": link(offset + limit) if offset + limit < total else None,
        "offset": offset,
        "previous": link(max(0, offset - limit)) if offset > 0 else None,
        "total": total,
    }


def snapshot_id(pl: SeedPlaylist) -> str:
    return spotify_id(f"snap:{pl.id}:{pl.version}") + "AAAA"


def playlist_object(pl: SeedPlaylist, owner: User, base: str, *, full: bool,
                    item_page: dict[str, Any] | None = None) -> dict[str, Any]:
    """A PlaylistObject (``full``, with a page of items) or a SimplifiedPlaylistObject."""
    obj: dict[str, Any] = {
        "collaborative": pl.collaborative,
        "description": pl.description or None,
        "external_urls": {"spotify": f"{OPEN}/playlist/{pl.id}"},
        "href": f"{base}/v1/playlists/{pl.id}",
        "id": pl.id,
        "images": images(base, "pl-" + pl.id)[:1] if pl.items else [],
        "name": pl.name,
        "owner": owner_object(owner, base),
        "public": pl.public,
        "snapshot_id": snapshot_id(pl),
        "type": "playlist",
        "uri": f"spotify:playlist:{pl.id}",
    }
    if full:
        obj["followers"] = {"href": None, "total": 0}
        obj["items"] = item_page
    else:
        ref = {"href": f"{base}/v1/playlists/{pl.id}/items", "total": len(pl.items)}
        obj["items"] = ref
        obj["tracks"] = dict(ref, href=f"{base}/v1/playlists/{pl.id}/tracks")
    return obj


# -- the ``fields`` filter of playlist requests ----------------------------------------------
# Hand-written: Spotify's dialect (``.`` for nesting, ``!`` to exclude) is not Google's
# partial-response syntax (``/``) that the JSON-mask libraries parse, and a test fake should not
# pull in a dependency for forty lines.
FieldSpec = tuple[dict[str, Any], frozenset[str]]  # (included name -> sub-spec or None, excluded names)
_FIELD_TOKEN = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*|[(),.!])\s*")


class FieldsError(ValueError):
    """A ``fields`` value the grammar does not allow."""


def parse_fields(text: str) -> FieldSpec:
    """Parse Spotify's ``fields`` grammar: ``a,b.c,d(e,f(g)),!h``.

    Commas separate fields; ``a.b`` and ``a(b,c)`` select inside ``a`` (an object, or each
    element of a list); ``!x`` excludes ``x`` -- a ``!`` opening a parenthesised list excludes
    every name in it, as in Spotify's example ``items.track.album(!external_urls,images)``.
    """
    tokens, pos = [], 0
    while pos < len(text):
        match = _FIELD_TOKEN.match(text, pos)
        if match is None:
            raise FieldsError(text)
        tokens.append(match.group(1))
        pos = match.end()
    spec, rest = _parse(tokens, single=False)
    if rest:
        raise FieldsError(text)
    return spec


def _parse(tokens: list[str], *, single: bool) -> tuple[FieldSpec, list[str]]:
    """One level: a comma list, or (after a ``.``) a single field."""
    included: dict[str, Any] = {}
    excluded: set[str] = set()
    exclude_all = not single and tokens[:1] == ["!"]
    while True:
        negate = exclude_all or tokens[:1] == ["!"]
        tokens = tokens[1:] if tokens[:1] == ["!"] else tokens
        if not tokens or not (tokens[0][0].isalpha() or tokens[0][0] == "_"):
            raise FieldsError(" ".join(tokens) or "a field name is missing")
        name, tokens = tokens[0], tokens[1:]
        sub: FieldSpec | None = None
        if tokens[:1] == ["."]:
            sub, tokens = _parse(tokens[1:], single=True)
        elif tokens[:1] == ["("]:
            sub, tokens = _parse(tokens[1:], single=False)
            if tokens[:1] != [")"]:
                raise FieldsError("unbalanced parentheses")
            tokens = tokens[1:]
        if negate:
            excluded.add(name)
        else:
            included[name] = sub
        if single or tokens[:1] != [","]:
            return (included, frozenset(excluded)), tokens
        tokens = tokens[1:]


def select_fields(value: Any, spec: FieldSpec | None) -> Any:
    """``value`` reduced to what ``spec`` (from :func:`parse_fields`) selects."""
    if spec is None:
        return value
    if isinstance(value, list):
        return [select_fields(v, spec) for v in value]
    if not isinstance(value, dict):
        return value
    included, excluded = spec
    if included:
        return {k: select_fields(value[k], sub) for k, sub in included.items() if k in value}
    return {k: v for k, v in value.items() if k not in excluded}
