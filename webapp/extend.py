"""Extend a playlist: what the Playlists page's "Extend a playlist" part reads and says (no Streamlit).

Where a playlist comes from: signed in, one of the listener's own Spotify playlists
(:mod:`spotify.own_playlists`); without Spotify, a list the visitor pastes (one song a line:
``Artist – Title``, or a Spotify track link, URI or id) or a CSV they upload — this app's own
export (``track_id, title, artists``) or one of Exportify's (``Track URI, Track Name, Artist
Name(s), Album Release Date``). Both become :class:`Entry` rows, matched to the catalogue like a
history (by id, by artist + title, by artist only) with weight 1 each
(:func:`engine.serving.continuation.playlist_history` weighs them) and handed to
:func:`engine.serving.continuation.continue_playlist`.

Bounded: at most :data:`MAX_ENTRIES` songs and :data:`MAX_UPLOAD_BYTES` of CSV; a line or row
that cannot be read is skipped with a one-line reason naming it, the rest is used.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from engine.core.matching import CatalogIndex
from engine.serving.continuation import FIT_ARTIST, FIT_ERA, FIT_SOUND, Pick, Playlist, PlaylistProfile
from engine.serving.listening import listening_from_history
from spotify.history import HistoryItem, TrackInfo
from spotify.ids import is_spotify_id, track_id_of_uri, track_uri
from webapp.cards import join_names
from webapp.listeners import MatchSummary

#: Songs read from one pasted list or uploaded CSV (more are left out, with a sentence).
MAX_ENTRIES = 500
#: Size of one uploaded CSV.
MAX_UPLOAD_BYTES = 1_000_000
#: Characters of one pasted list.
MAX_PASTE_CHARS = 50_000
#: Songs proposed at once.
N_PICKS = 20
_YEAR = re.compile(r"^\s*(\d{4})")
_DASH = re.compile(r"\s+[-–—]\s+")


@dataclass(frozen=True)
class Entry:
    """One song of a playlist as a source gives it: a Spotify id and/or artist + title, a year."""

    track_id: str | None
    title: str
    artist: str
    year: int = 0


@dataclass(frozen=True)
class Source:
    """A playlist to extend: its entries in order, where it came from, and what was skipped.

    ``playlist_id`` is the Spotify playlist (None for a pasted list or a CSV); ``editable`` says
    songs can be appended to it there; ``problems`` are one-line reasons for what was left out.
    """

    name: str
    entries: tuple[Entry, ...]
    playlist_id: str | None = None
    editable: bool = False
    url: str | None = None
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class Matched:
    """A source matched to the catalogue: the playlist the continuation reads, and the match counts."""

    playlist: Playlist
    match: MatchSummary


# -- reading sources --------------------------------------------------------------------------


def entry_of(info: TrackInfo) -> Entry:
    """An entry from a Spotify TrackObject as :func:`spotify.history.track_info` reads it."""
    year = _YEAR.match(info.release_date or "")
    return Entry(info.track_id, info.title, info.artists[0] if info.artists else "", int(year.group(1)) if year else 0)


def _spotify_id(text: str) -> str | None:
    """The track id of a bare id, a ``spotify:track:`` URI or an open.spotify.com link, else None."""
    try:
        return track_id_of_uri(track_uri(text))
    except ValueError:
        return None


def parse_pasted(text: str) -> tuple[list[Entry], list[str]]:
    """Entries of a pasted list, one song a line (blank lines and ``#`` comments passed over).

    A line is a Spotify track link, URI or id, or ``Artist – Title`` (``-``, ``–`` or ``—``
    with spaces around it). Returns the entries and a reason per line that is neither.
    """
    entries: list[Entry] = []
    problems: list[str] = []
    lines = text[:MAX_PASTE_CHARS].splitlines()
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if len(entries) >= MAX_ENTRIES:
            problems.append(f"Only the first {MAX_ENTRIES} songs are used; line {number} and later were left out.")
            break
        track_id = _spotify_id(line)
        if track_id:
            entries.append(Entry(track_id, "", ""))
            continue
        parts = _DASH.split(line, maxsplit=1)
        if len(parts) == 2 and parts[0].strip() and parts[1].strip():
            entries.append(Entry(None, parts[1].strip(), parts[0].strip()))
        else:
            problems.append(f"Line {number} ({_short(line)}) is neither “Artist – Title” nor a Spotify track link.")
    if len(text) > MAX_PASTE_CHARS:
        problems.append(f"Only the first {MAX_PASTE_CHARS:,} characters were read.")
    return entries, problems


#: CSV header names (case-insensitive) of each field: this app's export and Exportify's.
CSV_FIELDS: Mapping[str, tuple[str, ...]] = {
    "track": ("track_id", "track uri", "spotify_url", "uri", "id", "spotify id"),
    "title": ("title", "track name", "name", "track"),
    "artist": ("artists", "artist name(s)", "artist", "artist_names", "artist name"),
    "year": ("year", "album release date", "release date", "release_date"),
}


def parse_csv(data: bytes, *, filename: str = "playlist.csv") -> tuple[list[Entry], list[str]]:
    """Entries of an uploaded CSV; a file that cannot be read at all is one reason naming it.

    Each row needs a Spotify track id (URI or link) or a title and an artist; the artist field
    may list several (``A, B`` or ``A;B``: the first is used). Rows past :data:`MAX_ENTRIES`
    and files over :data:`MAX_UPLOAD_BYTES` are cut with a sentence.
    """
    problems: list[str] = []
    if len(data) > MAX_UPLOAD_BYTES:
        return [], [f"{filename} is {len(data) / 1e6:.1f} MB: at most {MAX_UPLOAD_BYTES / 1e6:.0f} MB can be read."]
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return [], [f"{filename} is not UTF-8 text (byte {exc.start}): save it as UTF-8 CSV and upload it again."]
    try:
        reader = csv.DictReader(io.StringIO(text))
        header = [h.strip() for h in (reader.fieldnames or [])]
    except csv.Error as exc:
        return [], [f"{filename}: not a CSV file ({exc})."]
    columns = {field: next((h for h in header if h.casefold() in names), None) for field, names in CSV_FIELDS.items()}
    if columns["track"] is None and (columns["title"] is None or columns["artist"] is None):
        shown = ", ".join(header[:8]) or "none"
        return [], [f"{filename}: no column with a Spotify track id, or with a title and an artist (its columns: {shown})."]
    entries: list[Entry] = []
    try:
        for number, row in enumerate(reader, start=2):  # line 1 is the header
            if len(entries) >= MAX_ENTRIES:
                problems.append(f"{filename}: only the first {MAX_ENTRIES} songs are used; row {number} and later "
                                "were left out.")
                break
            row = {(k or "").strip(): (v or "") if isinstance(v, str) else "" for k, v in row.items()}
            entry = _row_entry(row, columns)
            if entry is None:
                problems.append(f"{filename}: row {number} has neither a Spotify track id nor a title and an artist.")
            else:
                entries.append(entry)
    except csv.Error as exc:
        problems.append(f"{filename}: reading stopped at row {reader.line_num} ({exc}).")
    return entries, problems


def _row_entry(row: Mapping[str, str], columns: Mapping[str, str | None]) -> Entry | None:
    def cell(field: str) -> str:
        column = columns[field]
        return row.get(column, "").strip().lstrip("'") if column else ""  # "'" : this app's CSV-injection guard

    track_id = _spotify_id(cell("track")) if cell("track") else None
    title = cell("title")
    artist = re.split(r"\s*[,;]\s*", cell("artist"), maxsplit=1)[0] if cell("artist") else ""
    year = _YEAR.match(cell("year"))
    if not track_id and not (title and artist):
        return None
    return Entry(track_id, title, artist, int(year.group(1)) if year else 0)


def _short(text: str, limit: int = 40) -> str:
    return f"“{text[:limit]}…”" if len(text) > limit else f"“{text}”"


# -- matching ---------------------------------------------------------------------------------


def match_entries(entries: Sequence[Entry], index: CatalogIndex) -> Matched:
    """The entries matched to the catalogue, in order (weight 1 each), as a continuation's playlist.

    Years come from the source when it gives them (Spotify's album dates, a CSV's release
    dates); otherwise the continuation reads the catalogue's.
    """
    items = [HistoryItem(track_id=e.track_id if is_spotify_id(e.track_id) else None, title=e.title,
                         artist=e.artist, artists=(e.artist,) if e.artist else (), weight=1.0)
             for e in entries]
    listening, result = listening_from_history(items, index)
    years = [e.year for e in entries if e.year > 0]
    # Only when every entry has one: a partial set of years would shift the playlist's era.
    return Matched(Playlist.from_listening(listening, years=years if len(years) == len(entries) else ()),
                   MatchSummary.from_result(result))


# -- words ------------------------------------------------------------------------------------


def profile_sentence(profile: PlaylistProfile, labels: Mapping[int, str]) -> str:
    """``"Its artists: A, B and C · its sound: calm, acoustic (60%) · its era: 1994–2008"``."""
    parts = []
    if profile.artists:
        parts.append("its artists: " + join_names([name for _, name, _ in profile.artists]))
    if profile.sounds:
        parts.append("its sound: " + "; ".join(f"{labels.get(c, f'cluster {c}')} ({share:.0%})"
                                               for c, share in profile.sounds))
    if profile.era:
        parts.append(f"its era: {profile.era[0]}–{profile.era[1]}")
    text = " · ".join(parts)
    return text[:1].upper() + text[1:] if text else "The catalogue knows too little of this playlist to describe it."


def pick_lines(pick: Pick, profile: PlaylistProfile, labels: Mapping[int, str], because: Sequence[str] = ()) -> list[str]:
    """Why one pick continues the playlist: what of it the pick fits, and the songs behind its score."""
    lines = []
    if FIT_ARTIST in pick.fits and pick.artist:
        lines.append(f"Fits its artists: {pick.artist}")
    if FIT_SOUND in pick.fits and pick.cluster is not None:
        lines.append(f"Its sound: {labels.get(pick.cluster, f'cluster {pick.cluster}')}")
    if FIT_ERA in pick.fits and profile.era:
        lines.append(f"Its era: {pick.year} (the playlist spans {profile.era[0]}–{profile.era[1]})")
    if because:
        lines.append(f"Goes with {join_names([f'“{b}”' for b in because], limit=2)}")
    return lines or ["Listened with the playlist's songs"]


def extended_name(name: str) -> str:
    """The name of a new playlist made from ``name`` plus its continuation (at most 100 characters)."""
    suffix = " (extended)"
    return (name.strip() or "My playlist")[: 100 - len(suffix)] + suffix


def spotify_ids(entries: Iterable[Entry]) -> list[str]:
    """The Spotify track ids of the entries that have one, in order."""
    return [e.track_id for e in entries if e.track_id and is_spotify_id(e.track_id)]


def entry_rows(entries: Iterable[Entry]) -> list[dict[str, object]]:
    """The entries as rows of :func:`spotify.playlists.tracks_to_csv` (``track_id, title, artist``)."""
    return [{"track_id": e.track_id, "title": e.title, "artist": e.artist} for e in entries]
