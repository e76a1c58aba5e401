"""The fake Web API routes (``/v1/...``): bearer tokens, scopes, paging and the 2026 dev-mode rules.

It serves every call spotipy 2.26 makes for the app's scopes with spotipy's own defaults
(``tests/spotify/test_fake_spotify.py`` runs them all): ``me``, ``current_user_top_tracks`` /
``_top_artists``, ``current_user_recently_played``, ``current_user_saved_tracks``, ``track``,
``search``, ``current_user_playlists``, ``current_user_playlist_create``, ``playlist`` and
``playlist_items`` (``fields``, ``market`` and ``additional_types=track,episode`` accepted;
``fields`` applied; podcast episodes come as EpisodeObjects), ``playlist_add_items``,
``playlist_replace_items`` and ``next``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tests.fake_spotify import objects
from tests.fake_spotify.seed import TIME_RANGES, SeedPlaylist, Track, User, iso
from tests.fake_spotify.state import Token
from tests.fake_spotify.wire import ApiError, Request, Response

if TYPE_CHECKING:
    from tests.fake_spotify.server import FakeSpotify

_ID = re.compile(r"^[0-9A-Za-z]{22}$")
_TRACK_URI = re.compile(r"^spotify:(track|episode):[0-9A-Za-z]{22}$")
MAX_URIS = 100


@dataclass
class Caller:
    token: Token
    user: User | None

    def need_user(self) -> User:
        if self.user is None:
            raise ApiError(403, "This request requires user authentication.")
        return self.user

    def need_scope(self, *scopes: str) -> None:
        """403 unless the token holds at least one of ``scopes``."""
        if scopes and not any(s in self.token.scopes for s in scopes):
            raise ApiError(403, "Insufficient client scope")


Handler = Callable[["FakeSpotify", Request, Caller, dict[str, str]], Response]


def _track(fake: "FakeSpotify", t: Track, uri: str | None = None) -> dict[str, Any]:
    return objects.track_object(t, fake.base_url, dev_mode=fake.dev_mode, uri=uri)


def _resolve(fake: "FakeSpotify", uri: str) -> Track:
    if uri.startswith("spotify:local:"):
        return objects.local_track(uri)
    tid = uri.rsplit(":", 1)[-1]
    return fake.seed.tracks.get(tid) or objects.unknown_track(tid)


# -- profile and history -------------------------------------------------------------------
def me(fake: "FakeSpotify", req: Request, caller: Caller, _: dict[str, str]) -> Response:
    user = caller.need_user()
    return Response.json(200, objects.user_object(user, fake.base_url, dev_mode=fake.dev_mode, private=True))


def _top_page(fake: "FakeSpotify", req: Request, caller: Caller, kind: str,
              page: Callable[[User, str], list[Any]]) -> Response:
    """``/v1/me/top/<kind>``: the scope and arguments both top lists check, then one page of
    ``page(user, time_range)`` (every object of the list, best first)."""
    user = caller.need_user()
    caller.need_scope("user-top-read")
    time_range = req.arg("time_range", "medium_term")
    if time_range not in TIME_RANGES:
        raise ApiError(400, "Invalid time range")
    limit = req.int_arg("limit", 20, lo=1, hi=50)
    offset = req.int_arg("offset", 0, lo=0, hi=100_000)
    everything = page(user, time_range)
    return Response.json(200, objects.paging(everything[offset: offset + limit], base=fake.base_url,
                                             path=f"/v1/me/top/{kind}", limit=limit, offset=offset,
                                             total=len(everything), params={"time_range": time_range}))


def top_tracks(fake: "FakeSpotify", req: Request, caller: Caller, _: dict[str, str]) -> Response:
    """The listener's top tracks for ``time_range``."""
    return _top_page(fake, req, caller, "tracks",
                     lambda user, time_range: [_track(fake, fake.seed.tracks[i]) for i in user.top[time_range]])


def top_artists(fake: "FakeSpotify", req: Request, caller: Caller, _: dict[str, str]) -> Response:
    """The artists of the listener's top tracks for ``time_range``, most tracks first."""
    def ranked(user: User, time_range: str) -> list[Any]:
        counts: dict[tuple[str, str], int] = {}
        for tid in user.top[time_range]:
            t = fake.seed.tracks[tid]
            for artist in zip(t.artist_ids, t.artist_names):
                counts[artist] = counts.get(artist, 0) + 1
        order = sorted(counts, key=lambda a: -counts[a])  # stable: first seen first among equals
        return [objects.artist_object(fake.base_url, aid, name, dev_mode=fake.dev_mode) for aid, name in order]

    return _top_page(fake, req, caller, "artists", ranked)


def recently_played(fake: "FakeSpotify", req: Request, caller: Caller, _: dict[str, str]) -> Response:
    user = caller.need_user()
    caller.need_scope("user-read-recently-played")
    limit = req.int_arg("limit", 20, lo=1, hi=50)
    before, after = req.arg("before"), req.arg("after")
    if before and after:
        raise ApiError(400, "Only one of before or after may be specified")
    try:
        before_ms = int(before) if before else None
        after_ms = int(after) if after else None
    except ValueError:
        raise ApiError(400, "Invalid cursor") from None
    plays = sorted(user.recent, key=lambda p: -p.played_at_ms)
    if after_ms is not None:
        candidates = [p for p in plays if p.played_at_ms > after_ms]
        page = candidates[-limit:]  # the plays right after the cursor, newest first
    else:
        candidates = [p for p in plays if before_ms is None or p.played_at_ms < before_ms]
        page = candidates[:limit]
    path = "/v1/me/player/recently-played"
    next_url = None
    if len(candidates) > limit and page:
        cursor = {"after": page[0].played_at_ms} if after_ms is not None else {"before": page[-1].played_at_ms}
        next_url = objects.url(fake.base_url, path, {**cursor, "limit": limit})
    items = []
    for p in page:
        context = None
        if p.context_uri:
            pid = p.context_uri.rsplit(":", 1)[-1]
            context = {"type": "playlist", "href": f"{fake.base_url}/v1/playlists/{pid}",
                       "external_urls": {"spotify": f"{objects.OPEN}/playlist/{pid}"}, "uri": p.context_uri}
        items.append({"track": _track(fake, fake.seed.tracks[p.track_id]),
                      "played_at": iso(p.played_at_ms), "context": context})
    cursors = ({"after": str(page[0].played_at_ms), "before": str(page[-1].played_at_ms)} if page else None)
    href = objects.url(fake.base_url, path, {"limit": limit, "before": before, "after": after})
    return Response.json(200, {"items": items, "next": next_url, "cursors": cursors, "limit": limit,
                               "href": href})


def saved_tracks(fake: "FakeSpotify", req: Request, caller: Caller, _: dict[str, str]) -> Response:
    user = caller.need_user()
    caller.need_scope("user-library-read")
    limit = req.int_arg("limit", 20, lo=1, hi=50)
    offset = req.int_arg("offset", 0, lo=0, hi=100_000)
    items = [{"added_at": added, "track": _track(fake, fake.seed.tracks[tid])}
             for tid, added in user.saved[offset: offset + limit]]
    return Response.json(200, objects.paging(items, base=fake.base_url, path="/v1/me/tracks", limit=limit,
                                             offset=offset, total=len(user.saved),
                                             params={"market": req.arg("market")}))


# -- catalogue -----------------------------------------------------------------------------
_FILTER = re.compile(r'(\w+):("([^"]*)"|(\S+))')


def search(fake: "FakeSpotify", req: Request, caller: Caller, _: dict[str, str]) -> Response:
    q = req.arg("q") or req.arg("query")
    if not q:
        raise ApiError(400, "No search query")
    types = [t for t in (req.arg("type") or "").split(",") if t]
    if not types:
        raise ApiError(400, "Missing parameter type")
    limit = req.int_arg("limit", 5, lo=1, hi=10)  # February 2026: at most 10 for dev-mode apps
    offset = req.int_arg("offset", 0, lo=0, hi=1000)
    filters = {m.group(1).lower(): (m.group(3) if m.group(3) is not None else m.group(4)).casefold()
               for m in _FILTER.finditer(q)}
    words = _FILTER.sub(" ", q).casefold().split()

    def hit(t: Track) -> bool:
        artists = " ".join(t.artist_names).casefold()
        if "artist" in filters and filters["artist"] not in artists:
            return False
        if "track" in filters and filters["track"] not in t.name.casefold():
            return False
        if "year" in filters:
            lo, _, hi = filters["year"].partition("-")
            if not (lo.isdigit() and int(lo) <= t.year <= int(hi if hi.isdigit() else lo)):
                return False
        text = f"{t.name} {artists}".casefold()
        return all(w in text for w in words)

    body: dict[str, Any] = {}
    for kind in types:
        found = sorted((t for t in fake.seed.tracks.values() if hit(t)),
                       key=lambda t: (-(t.popularity or 0), t.name)) if kind == "track" else []
        items = [_track(fake, t) for t in found[offset: offset + limit]]
        body[kind + "s"] = objects.paging(items, base=fake.base_url, path="/v1/search", limit=limit,
                                          offset=offset, total=len(found), params={"query": q, "type": kind})
    return Response.json(200, body)


def track(fake: "FakeSpotify", req: Request, caller: Caller, params: dict[str, str]) -> Response:
    tid = params["id"]
    if not _ID.match(tid):
        raise ApiError(400, "Invalid base62 id")
    if tid not in fake.seed.tracks:
        raise ApiError(404, "Resource not found")
    return Response.json(200, _track(fake, fake.seed.tracks[tid]))


# -- playlists -----------------------------------------------------------------------------
def _visible(fake: "FakeSpotify", caller: Caller, playlist_id: str) -> SeedPlaylist:
    pl = fake.seed.playlists.get(playlist_id)
    viewer = caller.user.id if caller.user else None
    if pl is None or not (pl.public or pl.owner == viewer or pl.collaborative):
        raise ApiError(404, "Resource not found")
    return pl


def _editable(fake: "FakeSpotify", caller: Caller, playlist_id: str) -> SeedPlaylist:
    user = caller.need_user()
    pl = _visible(fake, caller, playlist_id)
    if pl.owner != user.id and not pl.collaborative:
        raise ApiError(403, "You cannot add items to a playlist you don't own.")
    caller.need_scope("playlist-modify-public" if pl.public else "playlist-modify-private")
    return pl


def _fields(req: Request) -> objects.FieldSpec | None:
    """The request's ``fields`` filter (None: everything); 400 when it does not parse."""
    raw = req.arg("fields")
    if not raw:
        return None
    try:
        return objects.parse_fields(raw)
    except objects.FieldsError:
        raise ApiError(400, "Invalid fields") from None


def _item_page(fake: "FakeSpotify", pl: SeedPlaylist, *, limit: int, offset: int) -> dict[str, Any]:
    entries = []
    for uri, added_at, added_by in pl.items[offset: offset + limit]:
        obj = (objects.episode_object(uri, fake.base_url) if uri.startswith("spotify:episode:")
               else _track(fake, _resolve(fake, uri), uri=uri))
        entry = {"added_at": added_at,
                 "added_by": objects.owner_object(fake.seed.users[added_by], fake.base_url),
                 "is_local": uri.startswith("spotify:local:"), "primary_color": None,
                 "item": obj, "video_thumbnail": {"url": None}}
        if not fake.dev_mode:
            entry["track"] = obj  # the deprecated key, gone for development-mode apps
        entries.append(entry)
    return objects.paging(entries, base=fake.base_url, path=f"/v1/playlists/{pl.id}/items", limit=limit,
                          offset=offset, total=len(pl.items))


def create_playlist(fake: "FakeSpotify", req: Request, caller: Caller, _: dict[str, str]) -> Response:
    user = caller.need_user()
    body = req.json()
    if not isinstance(body, dict) or not isinstance(body.get("name"), str) or not body["name"].strip():
        raise ApiError(400, "Missing required field: name")
    public = body.get("public", True) is not False
    collaborative = bool(body.get("collaborative", False))
    if collaborative and public:
        raise ApiError(400, "Collaborative playlists can only be private.")
    caller.need_scope("playlist-modify-public" if public else "playlist-modify-private")
    pl = SeedPlaylist(fake.new_id("pl"), user.id, body["name"], body.get("description") or "",
                      public=public, collaborative=collaborative)
    with fake.lock:
        fake.seed.playlists[pl.id] = pl
    page = _item_page(fake, pl, limit=100, offset=0)
    return Response.json(201, objects.playlist_object(pl, user, fake.base_url, full=True, item_page=page))


def my_playlists(fake: "FakeSpotify", req: Request, caller: Caller, _: dict[str, str]) -> Response:
    user = caller.need_user()
    limit = req.int_arg("limit", 20, lo=1, hi=50)
    offset = req.int_arg("offset", 0, lo=0, hi=100_000)
    private_ok = "playlist-read-private" in caller.token.scopes
    with fake.lock:
        # Owned playlists (private ones only with playlist-read-private) and followed ones, as Spotify lists them.
        mine = [p for p in reversed(list(fake.seed.playlists.values()))
                if (p.owner == user.id and (p.public or private_ok))
                or (user.id in p.followers and (p.public or p.collaborative))]
    items = [objects.playlist_object(p, fake.seed.users[p.owner], fake.base_url, full=False)
             for p in mine[offset: offset + limit]]
    return Response.json(200, objects.paging(items, base=fake.base_url, path="/v1/me/playlists", limit=limit,
                                             offset=offset, total=len(mine)))


def get_playlist(fake: "FakeSpotify", req: Request, caller: Caller, params: dict[str, str]) -> Response:
    spec = _fields(req)
    pl = _visible(fake, caller, params["id"])
    owner = fake.seed.users[pl.owner]
    is_member = caller.user is not None and (caller.user.id == pl.owner or pl.collaborative)
    # Dev mode: contents only for playlists the caller owns or collaborates on.
    page = _item_page(fake, pl, limit=100, offset=0) if (is_member or not fake.dev_mode) else None
    body = objects.playlist_object(pl, owner, fake.base_url, full=True, item_page=page)
    return Response.json(200, objects.select_fields(body, spec))


def get_items(fake: "FakeSpotify", req: Request, caller: Caller, params: dict[str, str]) -> Response:
    pl = _visible(fake, caller, params["id"])
    if not pl.public:
        caller.need_scope("playlist-read-private", "playlist-read-collaborative")
    if fake.dev_mode and not (caller.user and (caller.user.id == pl.owner or pl.collaborative)):
        raise ApiError(403, "Forbidden")
    spec = _fields(req)
    limit = req.int_arg("limit", 20, lo=1, hi=50)
    offset = req.int_arg("offset", 0, lo=0, hi=100_000)
    return Response.json(200, objects.select_fields(_item_page(fake, pl, limit=limit, offset=offset), spec))


def _uris(req: Request, body: Any) -> list[str] | None:
    if req.arg("uris") is not None:
        return [u for u in (req.arg("uris") or "").split(",") if u]
    if isinstance(body, list):
        return body
    if isinstance(body, dict) and "uris" in body:
        return body["uris"] if isinstance(body["uris"], list) else None
    return None


def _check_uris(uris: list[Any]) -> list[str]:
    if len(uris) > MAX_URIS:
        raise ApiError(400, f"You can add a maximum of {MAX_URIS} tracks per request.")
    for uri in uris:
        if not isinstance(uri, str) or not (_TRACK_URI.match(uri) or uri.startswith("spotify:local:")):
            raise ApiError(400, f"Invalid track uri: {uri}")
    return uris


def add_items(fake: "FakeSpotify", req: Request, caller: Caller, params: dict[str, str]) -> Response:
    pl = _editable(fake, caller, params["id"])
    body = req.json()
    uris = _uris(req, body)
    if uris is None:
        raise ApiError(400, "No uris provided")
    _check_uris(uris)
    raw_pos = req.arg("position") or (body.get("position") if isinstance(body, dict) else None)
    added = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    new = [(u, added, caller.need_user().id) for u in uris]
    with fake.lock:
        pos = len(pl.items) if raw_pos in (None, "") else int(raw_pos)
        if not 0 <= pos <= len(pl.items):
            raise ApiError(400, "Index out of bounds")
        pl.items[pos:pos] = new
        pl.version += 1
    return Response.json(201, {"snapshot_id": objects.snapshot_id(pl)})


def replace_items(fake: "FakeSpotify", req: Request, caller: Caller, params: dict[str, str]) -> Response:
    pl = _editable(fake, caller, params["id"])
    body = req.json()
    uris = _uris(req, body)
    reorder = isinstance(body, dict) and "range_start" in body
    if uris is not None and reorder:
        raise ApiError(400, "Replace and reorder cannot be combined")
    with fake.lock:
        if reorder:
            start, before = int(body["range_start"]), int(body["insert_before"])
            length = int(body.get("range_length", 1))
            moved = pl.items[start: start + length]
            rest = pl.items[:start] + pl.items[start + length:]
            at = before if before <= start else before - length
            pl.items = rest[:at] + moved + rest[at:]
        elif uris is not None:
            added = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            pl.items = [(u, added, caller.need_user().id) for u in _check_uris(uris)]
        else:
            raise ApiError(400, "No uris provided")
        pl.version += 1
    return Response.json(200, {"snapshot_id": objects.snapshot_id(pl)})


ROUTES: list[tuple[str, re.Pattern[str], Handler]] = [
    (m, re.compile(p), h) for m, p, h in (
        ("GET", r"^/v1/me/?$", me),
        ("GET", r"^/v1/me/top/tracks/?$", top_tracks),
        ("GET", r"^/v1/me/top/artists/?$", top_artists),
        ("GET", r"^/v1/me/player/recently-played/?$", recently_played),
        ("GET", r"^/v1/me/tracks/?$", saved_tracks),
        ("GET", r"^/v1/search/?$", search),
        ("GET", r"^/v1/tracks/(?P<id>[^/]+)/?$", track),
        ("POST", r"^/v1/me/playlists/?$", create_playlist),
        ("GET", r"^/v1/me/playlists/?$", my_playlists),
        ("GET", r"^/v1/playlists/(?P<id>[^/]+)/?$", get_playlist),
        ("GET", r"^/v1/playlists/(?P<id>[^/]+)/items/?$", get_items),
        ("POST", r"^/v1/playlists/(?P<id>[^/]+)/items/?$", add_items),
        ("PUT", r"^/v1/playlists/(?P<id>[^/]+)/items/?$", replace_items),
    )
]


def dispatch(fake: "FakeSpotify", req: Request) -> Response:
    """Route, apply scripted failures, check the bearer token, then run the handler."""
    for method, pattern, handler in ROUTES:  # noqa: B007 (handler is used after the break)
        match = pattern.match(req.path)
        if match and method == req.method:
            break
    else:
        raise ApiError(404, "Service not found")
    failure = fake.take_failure(req.path)
    if failure is not None:
        headers = {"Retry-After": failure.retry_after} if failure.retry_after is not None else {}
        raise ApiError(failure.status, failure.message, headers=headers)
    auth = req.headers.get("Authorization")
    if not auth:
        raise ApiError(401, "No token provided")
    value = req.bearer()
    if value is None:
        raise ApiError(400, "Only valid bearer authentication supported")
    token = fake.access_token(value)
    if token is None:
        raise ApiError(401, "Invalid access token")
    if token.expires_at <= time.time():
        raise ApiError(401, "The access token expired")
    user = fake.seed.users.get(token.user) if token.user else None
    return handler(fake, req, Caller(token, user), match.groupdict())
