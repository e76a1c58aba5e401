"""A listener's own Spotify data export (zip or JSON files) -> the same :class:`History` as the API.

An export holds far more history than the API's top-50 lists. Two formats, both read:

- **Account data** (``Spotify Account Data/StreamingHistory_music_0.json``; older exports
  ``StreamingHistory0.json``): a JSON list of ``{endTime: "2024-01-31 21:07", artistName,
  trackName, msPlayed}``, no track ids. ``StreamingHistory_podcast_*.json`` is ignored.
- **Extended streaming history** (``Streaming_History_Audio_2019-2021_0.json``; older
  ``endsong_0.json``): ``{ts, ms_played, master_metadata_track_name,
  master_metadata_album_artist_name, master_metadata_album_album_name, spotify_track_uri,
  skipped, reason_end, ...}``. Rows without a track name or ``spotify:track:`` URI (podcast
  episodes, audiobooks, nulls) are ignored; video history files are ignored.

Only the fields above are read; the export's IP addresses, countries and device names are never kept.

Weighting: every play of at least 30 s that was not skipped adds ``0.5 ** (age_days / 365)``;
every shorter or skipped play *subtracts* ``SKIP_PENALTY`` (0.5) times that. The age is measured
from the newest play in the export (an export is a snapshot; its own end is "now"). Tracks whose
net weight is not positive go to ``History.negative`` (the listener skips them).
When an export holds both formats the same play appears twice; plays are matched on (end
minute, artist, title) and the extended row, which has the track id, wins. Account-data rows
borrow the track id of an extended row with the same artist and title.

Errors: a file that is not JSON, not a list of plays, or has no readable row is reported as a
:class:`FileProblem` naming the file, and the other files still import; rows that cannot be read
are counted. :class:`~spotify.errors.ExportError` is raised only when nothing could be read.
"""

from __future__ import annotations

import io
import json
import os
import re
import zipfile
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Union

from spotify.errors import ExportError
from spotify.history import History, HistoryBuilder, TrackInfo
from spotify.ids import TRACK_URI_PREFIX, track_id_of_uri

FULL_PLAY_MS = 30_000
SKIP_PENALTY = 0.5
HALF_LIFE_DAYS = 365.0
MAX_MEMBER_BYTES = 300 * 1024 * 1024  # the largest real history files are ~15 MB
_HISTORY_NAME = re.compile(r"^(StreamingHistory(_music)?_?\d+|Streaming_History_Audio_.+|endsong_\d+)\.json$",
                           re.IGNORECASE)

Source = Union[bytes, str, "os.PathLike[str]", Iterable[Any]]


@dataclass(frozen=True)
class FileProblem:
    """A file of the export that could not be (fully) used."""

    name: str
    message: str

    def __str__(self) -> str:
        return f"{self.name}: {self.message}"


@dataclass(frozen=True)
class ExportResult:
    """What an import produced: the history, the files used, the problems, and counts."""

    history: History
    files: tuple[str, ...]
    problems: tuple[FileProblem, ...]
    counts: dict[str, int]


@dataclass(frozen=True)
class Play:
    """One play of an export: when it ended, what it was, how long it ran.

    ``extended`` marks rows of the extended streaming history (they carry the track id).
    """

    end: datetime
    artist: str
    title: str
    track_id: str | None
    album: str | None
    ms: int
    skipped: bool
    extended: bool


# -- reading files -------------------------------------------------------------------------
def _from_zip(name: str, data: bytes, problems: list[FileProblem]) -> Iterator[tuple[str, bytes]]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        problems.append(FileProblem(name, "not a readable zip file"))
        return
    with archive:
        found = False
        for info in archive.infolist():
            base = info.filename.rsplit("/", 1)[-1]
            if info.is_dir() or not _HISTORY_NAME.match(base):
                continue
            found = True
            if info.file_size > MAX_MEMBER_BYTES:
                problems.append(FileProblem(info.filename, "too large to be a streaming history file"))
                continue
            try:
                yield info.filename, archive.read(info)
            except (zipfile.BadZipFile, OSError, EOFError) as exc:
                problems.append(FileProblem(info.filename, f"could not be extracted ({exc})"))
        if not found:
            problems.append(FileProblem(name, "holds no streaming history (expected "
                                              "StreamingHistory_music_*.json or Streaming_History_Audio_*.json)"))


def _named(name: str, data: bytes, problems: list[FileProblem]) -> Iterator[tuple[str, bytes]]:
    if data[:4] == b"PK\x03\x04" or name.lower().endswith(".zip"):
        yield from _from_zip(name, data, problems)
    else:
        yield name, data


def _files(source: Source, name: str | None, problems: list[FileProblem]) -> Iterator[tuple[str, bytes]]:
    """(file name, bytes) of every candidate history file in ``source``."""
    if isinstance(source, (bytes, bytearray)):
        yield from _named(name or "upload", bytes(source), problems)
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if path.is_dir():
            for child in sorted(path.rglob("*.json")):
                if _HISTORY_NAME.match(child.name):
                    yield str(child.relative_to(path)), child.read_bytes()
        elif path.is_file():
            yield from _named(path.name, path.read_bytes(), problems)
        else:
            raise ExportError(f"{path}: no such file or folder")
    else:
        item: Any
        for item in source:  # (name, bytes) pairs or uploaded files (``.name``, ``.getvalue()``)
            if isinstance(item, tuple):
                item_name, data = item
            else:
                item_name, data = getattr(item, "name", "upload"), item.getvalue()
            yield from _named(str(item_name), bytes(data), problems)


def _time(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _row(row: Any) -> Play | str | None:
    """A play, None for rows to ignore (podcasts, nulls), or a string saying what is wrong."""
    if not isinstance(row, dict):
        return "not an object"
    if "ms_played" in row or "ts" in row:  # extended streaming history
        ms, end = row.get("ms_played"), _time(row.get("ts"))
        if not isinstance(ms, int) or isinstance(ms, bool) or ms < 0:
            return "'ms_played' is not a number"
        if end is None:
            return f"'ts' is not a timestamp: {row.get('ts')!r}"
        title, artist = row.get("master_metadata_track_name"), row.get("master_metadata_album_artist_name")
        uri = row.get("spotify_track_uri")
        if not title or not artist or not isinstance(uri, str) or not uri.startswith(TRACK_URI_PREFIX):
            return None
        track_id = track_id_of_uri(uri)
        return Play(end, str(artist), str(title), track_id, row.get("master_metadata_album_album_name") or None,
                     ms, bool(row.get("skipped")), True)
    if "msPlayed" in row or "endTime" in row:  # account data
        ms, end = row.get("msPlayed"), _time(row.get("endTime"))
        if not isinstance(ms, int) or isinstance(ms, bool) or ms < 0:
            return "'msPlayed' is not a number"
        if end is None:
            return f"'endTime' is not a timestamp: {row.get('endTime')!r}"
        title, artist = row.get("trackName"), row.get("artistName")
        if not title or not artist or (artist, title) == ("Unknown Artist", "Unknown Track"):
            return None
        return Play(end, str(artist), str(title), None, None, ms, False, False)
    return "has neither 'ms_played'/'ts' nor 'msPlayed'/'endTime'"


def _parse_file(name: str, data: bytes, counts: Counter[str], warnings: list[str]) -> list[Play] | FileProblem:
    try:
        rows = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        return FileProblem(name, "not UTF-8 text")
    except json.JSONDecodeError as exc:
        return FileProblem(name, f"not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})")
    if not isinstance(rows, list):
        return FileProblem(name, "expected a JSON list of plays")
    plays: list[Play] = []
    bad: list[str] = []
    ignored = 0
    for index, row in enumerate(rows):
        result = _row(row)
        if isinstance(result, Play):
            plays.append(result)
        elif result is None:
            ignored += 1
        else:
            bad.append(f"row {index}: {result}")
    if rows and not plays and not ignored:
        return FileProblem(name, f"no readable plays (first problem: {bad[0]})")
    counts["ignored"] += ignored
    counts["bad_rows"] += len(bad)
    if bad:
        warnings.append(f"{name}: {len(bad)} unreadable rows skipped (first: {bad[0]})")
    return plays


# -- weighting -----------------------------------------------------------------------------
def _key(artist: str, title: str) -> tuple[str, str]:
    return " ".join(artist.casefold().split()), " ".join(title.casefold().split())


def _weigh(plays: list[Play], counts: Counter[str]) -> HistoryBuilder:
    builder = HistoryBuilder("spotify_export")
    plays.sort(key=lambda p: not p.extended)  # extended rows first: they win duplicates
    ids: dict[tuple[str, str], Counter[str]] = {}
    for p in plays:
        if p.track_id:
            ids.setdefault(_key(p.artist, p.title), Counter())[p.track_id] += 1
    seen: set[tuple[datetime, str, str]] = set()
    newest = max((p.end for p in plays), default=datetime.now(UTC))  # the default is never used
    for p in plays:
        dedupe = (p.end.replace(second=0, microsecond=0), *_key(p.artist, p.title))
        if dedupe in seen:
            counts["duplicates"] += 1
            continue
        seen.add(dedupe)
        known = ids.get(_key(p.artist, p.title))
        track_id = p.track_id or (known.most_common(1)[0][0] if known else None)
        decay = 0.5 ** (max(0.0, (newest - p.end).total_seconds()) / 86400 / HALF_LIFE_DAYS)
        full = p.ms >= FULL_PLAY_MS and not p.skipped
        counts["plays"] += 1
        counts["full_plays" if full else "short_or_skipped"] += 1
        info = TrackInfo(track_id=track_id, title=p.title, artists=(p.artist,), album=p.album)
        builder.add(info, decay if full else -SKIP_PENALTY * decay, "export", played_at=p.end,
                    play=full, skip=not full)
    return builder


@dataclass(frozen=True)
class PlayLog:
    """Every readable play of an export, before weighting (see :func:`read_plays`)."""

    plays: tuple[Play, ...]
    files: tuple[str, ...]
    problems: tuple[FileProblem, ...]
    counts: dict[str, int]
    warnings: tuple[str, ...]


def read_plays(source: Source, *, name: str | None = None) -> PlayLog:
    """The plays of a Spotify data export, unweighted (the first half of :func:`read_export`).

    For callers that need the plays themselves, e.g. a time split of an export into a history
    and a future (``scripts/evaluate_listeners.py``); :func:`history_from_plays` weighs any
    subset into a :class:`History`. Same ``source`` forms and errors as :func:`read_export`.
    """
    problems: list[FileProblem] = []
    warnings: list[str] = []
    counts: Counter[str] = Counter()
    plays: list[Play] = []
    used: list[str] = []
    for file_name, data in _files(source, name, problems):
        parsed = _parse_file(file_name, data, counts, warnings)
        if isinstance(parsed, FileProblem):
            problems.append(parsed)
            continue
        used.append(file_name)
        plays.extend(parsed)
    if not used:
        detail = "; ".join(str(p) for p in problems) or "no files given"
        raise ExportError(f"Could not read any streaming history: {detail}")
    return PlayLog(plays=tuple(plays), files=tuple(used), problems=tuple(problems), counts=dict(counts),
                   warnings=tuple(warnings + [str(p) for p in problems]))


def history_from_plays(plays: Iterable[Play], *, log: PlayLog | None = None) -> tuple[History, dict[str, int]]:
    """Weigh ``plays`` into a :class:`History` (the second half of :func:`read_export`).

    Returns the history and its counts (``plays``, ``full_plays``, ``short_or_skipped``,
    ``duplicates``, plus ``ignored`` and ``bad_rows`` from ``log`` when given); the log's
    warnings become the history's.
    """
    counts: Counter[str] = Counter(log.counts if log is not None else {})
    builder = _weigh(list(plays), counts)
    builder.warnings.extend(log.warnings if log is not None else ())
    for key in ("plays", "full_plays", "short_or_skipped", "ignored", "duplicates", "bad_rows"):
        counts.setdefault(key, 0)
    builder.counts.update(counts)
    return builder.build(), dict(counts)


def read_export(source: Source, *, name: str | None = None) -> ExportResult:
    """Import a Spotify data export.

    Parameters
    ----------
    source
        A path (a ``.zip``, a ``.json`` or a folder), the bytes of a zip or JSON file (``name``
        is used in messages), or an iterable of ``(name, bytes)`` pairs / uploaded files with
        ``.name`` and ``.getvalue()`` (each may itself be a zip).
    name
        The display name of ``source`` when it is bytes.

    Returns
    -------
    ExportResult
        ``history`` (origin ``spotify_export``), the files used, the per-file problems, and
        counts: ``plays``, ``full_plays``, ``short_or_skipped``, ``ignored`` (podcasts, nulls),
        ``duplicates``, ``bad_rows``.

    Raises
    ------
    ExportError
        When no file could be read at all; the message names each file and its problem.
    """
    log = read_plays(source, name=name)
    history, counts = history_from_plays(log.plays, log=log)
    return ExportResult(history=history, files=log.files, problems=log.problems, counts=counts)
