"""A listener's Spotify history (top, recently played, saved) -> one weighted history.

Weighting of the Web API history (each contribution adds to the track's ``weight``):

- **top tracks**, per time range: ``RANGE_WEIGHT[range] * 0.5 ** (rank / TOP_HALF_LIFE_RANKS)``
  with ``RANGE_WEIGHT = {short_term: 3.0, medium_term: 2.0, long_term: 1.5}`` and a half-life of
  25 ranks (rank 0 is the top). Recent taste counts most; a track at the top of all three lists
  gets 6.5.
- **recently played**: every play adds ``0.5 ** (age_days / RECENT_HALF_LIFE_DAYS)`` (14 days),
  with the age measured from ``now``; the API keeps only the last 50 plays.
- **saved tracks** (Liked Songs): a constant ``SAVED_WEIGHT`` (1.0): an explicit like, but it says
  nothing about how often the track is played.

Entries of the same track add up: keyed by Spotify track id, or by the case-folded
artist + title when there is no id (local files, the account-data export). These weights are
the raw ``r`` of the fold-in; the serving side applies the bundle's confidence transform.
:mod:`spotify.export_import` produces the same :class:`History` from a data export.

Missing fields are read with defaults (the 2026 development-mode rules drop ``popularity``,
``available_markets`` and most ``preview_url`` values; playlist entries carry ``item`` instead
of ``track``). Nothing here knows the catalogue: ``engine.core.matching`` maps items to the model.
"""

from __future__ import annotations

import logging
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

import spotipy

from spotify.errors import SpotifyRefused
from spotify.fanout import MAX_WORKERS, run_all

logger = logging.getLogger(__name__)

TIME_RANGES = ("short_term", "medium_term", "long_term")
RANGE_WEIGHT = {"short_term": 3.0, "medium_term": 2.0, "long_term": 1.5}
TOP_HALF_LIFE_RANKS = 25.0
RECENT_HALF_LIFE_DAYS = 14.0
SAVED_WEIGHT = 1.0
PAGE_SIZE = 50  # the API's maximum for these endpoints


@dataclass(frozen=True, slots=True)  # slots: an export can hold 100,000 tracks
class HistoryItem:
    """One track of a listener's history with its summed weight.

    ``track_id``, ``title``, ``artist`` and ``weight`` are what ``engine.core.matching`` reads.
    ``play_times`` / ``play_weights`` are the timed part of ``weight``: one entry per
    contribution that has a time (a recently played entry, an export's play or skip), as
    epoch seconds (UTC) and the signed weight it added, in the order read. Untimed parts (top
    lists, saved tracks) are ``weight - sum(play_weights)``. Leaving out a time range of
    listening subtracts the entries inside it.
    """

    track_id: str | None
    title: str
    artist: str
    artists: tuple[str, ...] = ()
    weight: float = 0.0
    sources: tuple[str, ...] = ()
    artist_ids: tuple[str, ...] = ()
    album: str | None = None
    release_date: str | None = None
    duration_ms: int | None = None
    popularity: int | None = None
    preview_url: str | None = None
    image_url: str | None = None
    plays: int = 0
    skips: int = 0
    last_played: datetime | None = None
    # Sequences, not tuples: a builder hands over its compact ``array('d')`` columns (8 bytes an
    # entry instead of ~32 for a tuple of floats), so they take no part in the hash.
    play_times: Sequence[float] = field(default=(), hash=False)
    play_weights: Sequence[float] = field(default=(), hash=False)


@dataclass(frozen=True)
class History:
    """A weighted history; ``items`` are sorted by weight, highest first.

    ``counts`` holds the raw entries read per source, ``negative`` the tracks whose net weight
    is not positive (an export's mostly-skipped tracks), ``warnings`` sentences for the listener
    about parts that could not be read.
    """

    items: tuple[HistoryItem, ...]
    origin: str
    counts: Mapping[str, int] = field(default_factory=dict)
    negative: tuple[HistoryItem, ...] = ()
    warnings: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[HistoryItem]:
        return iter(self.items)

    @property
    def total_weight(self) -> float:
        return sum(i.weight for i in self.items)

    def track_ids(self) -> list[str]:
        """Spotify ids of the items that have one, in weight order."""
        return [i.track_id for i in self.items if i.track_id]

    def top(self, n: int) -> list[HistoryItem]:
        return list(self.items[:n])


@dataclass(frozen=True, slots=True)
class TrackInfo:
    """The fields of a TrackObject we keep."""

    track_id: str | None
    title: str
    artists: tuple[str, ...]
    artist_ids: tuple[str, ...] = ()
    album: str | None = None
    release_date: str | None = None
    duration_ms: int | None = None
    popularity: int | None = None
    preview_url: str | None = None
    image_url: str | None = None

    @property
    def key(self) -> str:
        """Merge key: the id, else case-folded artist + title (identity only, not matching)."""
        if self.track_id:
            return self.track_id
        return "name:" + " ".join((self.artists[0] if self.artists else "").casefold().split()) + \
            "\x1f" + " ".join(self.title.casefold().split())


def _str(value: Any) -> str | None:
    """``value`` when it is a non-blank string (stripped), else None: API fields may be anything."""
    return (value.strip() or None) if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _mappings(value: Any) -> list[Mapping[str, Any]]:
    """The mappings of a list field (anything else reads as empty)."""
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def track_info(obj: Any) -> TrackInfo | None:
    """Read a TrackObject, tolerating missing/null/mistyped fields; None for episodes and empty entries."""
    if not isinstance(obj, Mapping) or obj.get("type", "track") != "track":
        return None
    title = _str(obj.get("name"))
    artist_objs = _mappings(obj.get("artists"))
    artists = tuple(name for a in artist_objs if (name := _str(a.get("name"))))
    if not title or not artists:
        return None
    album_obj = obj.get("album")
    album: Mapping[str, Any] = album_obj if isinstance(album_obj, Mapping) else {}
    images = [i for i in _mappings(album.get("images")) if _str(i.get("url"))]
    # Prefer a mid-size cover (~300 px): big enough for a card, small to load.
    images.sort(key=lambda i: abs((_int(i.get("width")) or 300) - 300))
    track_id = _str(obj.get("id")) if not obj.get("is_local") else None
    return TrackInfo(
        track_id=track_id, title=title, artists=artists,
        artist_ids=tuple(str(a["id"]) for a in artist_objs if a.get("id")),
        album=_str(album.get("name")), release_date=_str(album.get("release_date")),
        duration_ms=_int(obj.get("duration_ms")), popularity=_int(obj.get("popularity")),
        preview_url=_str(obj.get("preview_url")), image_url=_str(images[0]["url"]) if images else None)


def entry_track(entry: Any) -> Any:
    """The track of a saved/recent/playlist entry: ``item`` (2026) or ``track`` (older)."""
    if not isinstance(entry, Mapping):
        return None
    return entry.get("item") or entry.get("track")


def parse_time(text: Any) -> datetime | None:
    """An ISO-8601 timestamp (``...Z`` allowed) as an aware UTC datetime; None when unreadable."""
    if not isinstance(text, str) or not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass(slots=True)
class _Row:
    """One track's running totals in a :class:`HistoryBuilder` (slots: ~150 bytes a track)."""

    info: TrackInfo
    weight: float = 0.0
    sources: tuple[str, ...] = ()
    plays: int = 0
    skips: int = 0
    last: datetime | None = None
    #: the timed part of ``weight``: one entry per play (epoch seconds, its weight), as compact
    #: float arrays (16 bytes a play; an export may hold 500,000 plays)
    times: array[float] = field(default_factory=lambda: array("d"))
    timed: array[float] = field(default_factory=lambda: array("d"))


class HistoryBuilder:
    """Accumulates weighted contributions per track, then freezes them into a :class:`History`."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self._rows: dict[str, _Row] = {}
        self.counts: dict[str, int] = {}
        self.warnings: list[str] = []

    def count(self, source: str, n: int = 1) -> None:
        self.counts[source] = self.counts.get(source, 0) + n

    def add(self, info: TrackInfo, weight: float, source: str, *, played_at: datetime | None = None,
            play: bool = False, skip: bool = False) -> None:
        row = self._rows.get(info.key)
        if row is None:
            row = self._rows[info.key] = _Row(info)
        row.weight += weight
        if source not in row.sources:
            row.sources += (source,)
        row.plays += int(play)
        row.skips += int(skip)
        if played_at is not None:
            row.times.append(played_at.timestamp())
            row.timed.append(weight)
            if row.last is None or played_at > row.last:
                row.last = played_at

    def build(self) -> History:
        items = []
        for row in self._rows.values():
            info = row.info
            items.append(HistoryItem(
                track_id=info.track_id, title=info.title, artist=info.artists[0], artists=info.artists,
                weight=round(row.weight, 6), sources=row.sources, artist_ids=info.artist_ids,
                album=info.album, release_date=info.release_date, duration_ms=info.duration_ms,
                popularity=info.popularity, preview_url=info.preview_url, image_url=info.image_url,
                plays=row.plays, skips=row.skips, last_played=row.last,
                play_times=row.times or (), play_weights=row.timed or ()))
        items.sort(key=lambda i: (-i.weight, i.artist.casefold(), i.title.casefold()))
        return History(items=tuple(i for i in items if i.weight > 0), origin=self.origin,
                       counts=dict(self.counts), negative=tuple(i for i in items if i.weight <= 0),
                       warnings=tuple(self.warnings))


# -- fetching ------------------------------------------------------------------------------
def all_pages(sp: spotipy.Spotify, page: Mapping[str, Any] | None, *, max_items: int) -> list[Any]:
    """Every item of a paged result, following ``next`` (offset or cursor paging), up to ``max_items``."""
    items: list[Any] = []
    while page:
        items.extend(page.get("items") or [])
        if len(items) >= max_items or not page.get("next"):
            break
        page = sp.next(page)
    return items[:max_items]


def fetch_top_tracks(sp: spotipy.Spotify, time_range: str, *, page_size: int = PAGE_SIZE,
                     max_items: int = 1000) -> list[Any]:
    """All top tracks (TrackObjects) of one time range."""
    first = sp.current_user_top_tracks(limit=page_size, offset=0, time_range=time_range)
    return all_pages(sp, first, max_items=max_items)


def fetch_recently_played(sp: spotipy.Spotify, *, page_size: int = PAGE_SIZE, max_items: int = 1000) -> list[Any]:
    """Recently played entries (``{track, played_at, context}``), newest first, following cursors."""
    first = sp.current_user_recently_played(limit=page_size)
    return all_pages(sp, first, max_items=max_items)


def fetch_saved_tracks(sp: spotipy.Spotify, *, page_size: int = PAGE_SIZE, max_items: int = 1000) -> list[Any]:
    """Saved tracks (``{added_at, track}``), newest first, up to ``max_items``."""
    first = sp.current_user_saved_tracks(limit=page_size, offset=0)
    return all_pages(sp, first, max_items=max_items)


_WHAT = {"top": "your top tracks", "recent": "your recently played tracks", "saved": "your saved tracks"}


def _guarded(builder: HistoryBuilder, what: str, outcome: list[Any] | BaseException) -> list[Any]:
    """One source's items; a 403 (permission not granted) becomes a warning, other errors are raised."""
    if not isinstance(outcome, BaseException):
        return outcome
    if isinstance(outcome, SpotifyRefused) and outcome.status == 403:
        builder.warnings.append(f"Spotify did not allow reading {_WHAT[what]} (permission missing); "
                                f"sign out and in again to grant it.")
        return []
    raise outcome


def fetch_history(sp: spotipy.Spotify, *, now: datetime | None = None, page_size: int = PAGE_SIZE,
                  max_saved: int = 1000, max_workers: int = MAX_WORKERS) -> History:
    """Read top tracks (3 ranges), recently played and saved tracks into one weighted history.

    The five sources' first pages are read at once, then all their later pages at once (by
    offset; :func:`spotify.fanout.run_all`: one client per worker, the same token), and merged
    in a fixed order, so the result is the one a sequential read gives: same items, order,
    counts and warnings; when several sources fail with something other than a 403, the error
    raised is the one of the first source in that order.

    Parameters
    ----------
    sp
        A client from :func:`spotify.client.make_client` / ``SpotifyAuth.client()``.
    now
        Reference time for the recency decay (default: the current UTC time).
    page_size
        Items per request (the API allows 1..50).
    max_saved
        Cap on saved tracks read (a large library costs one request per 50).
    max_workers
        Sources read at once (at most :data:`spotify.fanout.MAX_WORKERS`); 1 reads them one
        after another on ``sp`` in this thread (the sequential reference).

    Returns
    -------
    History
        Items sorted by weight; ``counts`` per source (``top_short_term``..., ``recent``,
        ``saved``); ``warnings`` for sources Spotify refused (403).
    """
    outcomes = _read_sources(sp, [], page_size=page_size, max_saved=max_saved, max_workers=max_workers)
    return _merged(outcomes, now or datetime.now(UTC))


def fetch_profile_and_history(
    sp: spotipy.Spotify, *, now: datetime | None = None, page_size: int = PAGE_SIZE, max_saved: int = 1000,
    max_workers: int = MAX_WORKERS,
) -> tuple[dict[str, Any], History]:
    """The listener's profile (``sp.me()``) and :func:`fetch_history`, read in one fan-out.

    The profile is a sixth read beside the five sources (at most :data:`MAX_WORKERS` at once;
    it is submitted last, so the paged sources start first), instead of a request before them.
    The result is what ``sp.me()`` then ``fetch_history(sp)`` give, and so are the errors: a
    failed profile read raises first, as when it ran first; otherwise the history's rules hold.
    """
    outcomes = _read_sources(sp, [_me_read], page_size=page_size, max_saved=max_saved, max_workers=max_workers)
    *sources, profile = outcomes
    if isinstance(profile, BaseException):
        raise profile
    return profile, _merged(sources, now or datetime.now(UTC))


#: Items each source keeps at most (top tracks: the API has fewer; saved: ``max_saved``).
_MAX_ITEMS = 1000


def _read_sources(sp: spotipy.Spotify, extra: Sequence[Callable[[spotipy.Spotify], Any]], *, page_size: int,
                  max_saved: int, max_workers: int) -> list[Any]:
    """The five sources' items (or the exception each raised), then the ``extra`` reads' outcomes.

    Two fan-outs (:func:`~spotify.fanout.run_all`): every source's first page with the
    ``extra`` reads, then every page after them at once. Offset-paged sources (top tracks,
    saved tracks) say their ``total``, so their later pages are read side by side, by offset;
    a large library (1000 saved tracks: 20 pages) no longer waits one request after another.
    The items are the ones following ``next`` would give (the same pages, in order), as long
    as the library does not change during the read; a failed later page fails its source with
    the first such error, as a sequential read would have stopped there.
    """
    firsts: list[Callable[..., Any]] = [
        *(partial(_top_read, time_range=r, page_size=page_size) for r in TIME_RANGES),
        partial(_recent_read, page_size=page_size),
        partial(_saved_read, page_size=page_size),
    ]
    # How a later page of each source is read by offset (None: cursor paging, follow ``next``).
    at_offset: list[Callable[..., Any] | None] = [
        *(partial(_top_read, time_range=r) for r in TIME_RANGES), None, _saved_read,
    ]
    caps = [_MAX_ITEMS] * (len(firsts) - 1) + [max_saved]
    first_outcomes = run_all(sp, [*firsts, *extra], max_workers=max_workers)
    pages, extra_outcomes = first_outcomes[: len(firsts)], first_outcomes[len(firsts):]
    later = [_later_pages(page, cap, reader) if isinstance(page, Mapping) else []
             for page, cap, reader in zip(pages, caps, at_offset, strict=True)]
    flat = [read for reads in later for read in reads]
    later_outcomes: list[Any] = run_all(sp, flat, max_workers=max_workers) if flat else []
    out: list[Any] = []
    done = 0
    for page, cap, reads in zip(pages, caps, later, strict=True):
        outcomes, done = later_outcomes[done : done + len(reads)], done + len(reads)
        if isinstance(page, BaseException):
            out.append(page)
            continue
        failed = next((o for o in outcomes if isinstance(o, BaseException)), None)
        if failed is not None:  # the first failed page in order, as a sequential read stops there
            out.append(failed)
            continue
        items = list((page or {}).get("items") or [])
        for page_items in outcomes:
            items.extend(page_items)
        out.append(items[:cap])
    return [*out, *extra_outcomes]


def _later_pages(page: Mapping[str, Any], cap: int,
                 reader: Callable[..., Any] | None) -> list[Callable[[spotipy.Spotify], list[Any]]]:
    """Reads of the items after a first ``page``, in order: one per page by offset with
    ``reader(sp, page_size=, offset=)`` when the page says its ``total`` and ``limit``, else one
    read following ``next`` (cursor paging)."""
    have = len(page.get("items") or [])
    if not page.get("next") or have >= cap:
        return []
    total, limit = page.get("total"), page.get("limit")
    if reader is not None and isinstance(total, int) and isinstance(limit, int) and limit > 0 and page.get("offset") == 0:
        return [partial(_items_of, reader, page_size=limit, offset=o) for o in range(limit, min(total, cap), limit)]
    return [partial(_following, page=page, max_items=cap)]


def _items_of(reader: Callable[..., Any], sp: spotipy.Spotify, **kwargs: Any) -> list[Any]:
    """The items of one page ``reader`` reads."""
    return list((reader(sp, **kwargs) or {}).get("items") or [])


def _following(sp: spotipy.Spotify, *, page: Mapping[str, Any], max_items: int) -> list[Any]:
    """The items after ``page``, following ``next`` (cursor paging): :func:`all_pages` up to
    ``max_items`` in all, less the page's own."""
    return all_pages(sp, page, max_items=max_items)[len(page.get("items") or []):]


def _merged(outcomes: Sequence[list[Any] | BaseException], now: datetime) -> History:
    """The weighted history from the five sources' outcomes (in :func:`_read_sources` order)."""
    *tops, recent_outcome, saved_outcome = outcomes
    builder = HistoryBuilder("spotify_api")
    for time_range, outcome in zip(TIME_RANGES, tops, strict=True):
        tracks = _guarded(builder, "top", outcome)
        source = f"top_{time_range}"
        builder.count(source, len(tracks))
        for rank, obj in enumerate(tracks):
            info = track_info(obj)
            if info is not None:
                builder.add(info, RANGE_WEIGHT[time_range] * 0.5 ** (rank / TOP_HALF_LIFE_RANKS), source)
    recent = _guarded(builder, "recent", recent_outcome)
    builder.count("recent", len(recent))
    for entry in recent:
        info = track_info(entry_track(entry))
        played_at = parse_time(entry.get("played_at")) if isinstance(entry, Mapping) else None
        if info is None:
            continue
        age_days = max(0.0, (now - played_at).total_seconds() / 86400) if played_at else RECENT_HALF_LIFE_DAYS
        builder.add(info, 0.5 ** (age_days / RECENT_HALF_LIFE_DAYS), "recent", played_at=played_at, play=True)
    saved = _guarded(builder, "saved", saved_outcome)
    builder.count("saved", len(saved))
    for entry in saved:
        info = track_info(entry_track(entry))
        if info is not None:
            builder.add(info, SAVED_WEIGHT, "saved")
    # Deduplicate warnings: three time ranges may each have been refused.
    builder.warnings = list(dict.fromkeys(builder.warnings))
    return builder.build()


# Module-level reads (not lambdas) so each names its source in a traceback from a worker thread.
# Each reads one page of a source (the first by default; the rest: _later_pages).
def _top_read(sp: spotipy.Spotify, *, time_range: str, page_size: int, offset: int = 0) -> Any:
    return sp.current_user_top_tracks(limit=page_size, offset=offset, time_range=time_range)


def _me_read(sp: spotipy.Spotify) -> dict[str, Any]:
    return dict(sp.me())


def _recent_read(sp: spotipy.Spotify, *, page_size: int) -> Any:
    return sp.current_user_recently_played(limit=page_size)


def _saved_read(sp: spotipy.Spotify, *, page_size: int, offset: int = 0) -> Any:
    return sp.current_user_saved_tracks(limit=page_size, offset=offset)


def history_from_items(items: Iterable[HistoryItem], *, origin: str) -> History:
    """A :class:`History` from ready items (e.g. a demo listener), sorted by weight."""
    ordered = sorted(items, key=lambda i: (-i.weight, i.artist.casefold(), i.title.casefold()))
    return History(items=tuple(i for i in ordered if i.weight > 0), origin=origin,
                   negative=tuple(i for i in ordered if i.weight <= 0))
