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

Files are recognised by their rows, not only their names: a JSON file in the export (or a
file the listener gives) whose first row has the fields of one of the two formats is read
whatever it is called (``endsong.json``, ``StreamingHistory0_NEW.json``). Files with one of
Spotify's history names are read row by row and each of their problems is reported; other JSON
files of a zip or folder (``Userdata.json``, ``Playlist1.json``...) are passed over.

Errors: a file that is not JSON, not a list of plays, or has no readable row is reported as a
:class:`FileProblem` naming the file, and the other files still import; rows that cannot be read
are counted. :class:`~spotify.errors.ExportError` is raised only when nothing could be read.

Limits: an import is bounded in bytes, files, rows, JSON values, nesting and tracks
(:mod:`spotify.export_limits`); JSON is read as a stream (:mod:`spotify.export_json`), zips
member by member (:mod:`spotify.export_files`). Past a limit reading stops with a sentence and
what was read is kept. Whatever it is sent, :func:`read_export` raises nothing but
:class:`~spotify.errors.ExportError`.
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeGuard

from spotify.errors import ExportError
from spotify.export_files import BoundedStream, Candidate, FileProblem, Source, candidates
from spotify.export_json import NESTED, json_rows
from spotify.export_limits import LIMITS, Budget, ExportLimits, FileRefused, ImportStopped
from spotify.history import History, HistoryBuilder, TrackInfo
from spotify.ids import TRACK_URI_PREFIX, track_id_of_uri

__all__ = ["ExportResult", "FileProblem", "read_export", "history_shape"]

FULL_PLAY_MS = 30_000
SKIP_PENALTY = 0.5
HALF_LIFE_DAYS = 365.0
#: The fields of an account-data row (``StreamingHistory_music_*.json``).
ACCOUNT_FIELDS = frozenset({"endTime", "artistName", "trackName", "msPlayed"})
#: The fields of an extended-history row that are read; a row of that format has ``ts`` and
#: ``ms_played`` and at least one of ``master_metadata_track_name`` / ``spotify_track_uri``.
EXTENDED_FIELDS = frozenset({"ts", "ms_played", "master_metadata_track_name", "master_metadata_album_artist_name",
                             "master_metadata_album_album_name", "spotify_track_uri", "skipped"})
_WANTED = ACCOUNT_FIELDS | EXTENDED_FIELDS
_NOT_A_HISTORY = ("not a streaming history: its rows have neither endTime, artistName, trackName, msPlayed "
                  "(account data) nor ts, ms_played, master_metadata_track_name, spotify_track_uri "
                  "(extended streaming history)")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SKIPPED, _EXTENDED = 1, 2  # bits of _Plays.flags


@dataclass(frozen=True)
class ExportResult:
    """What an import produced: the history, the files used, the problems, and counts."""

    history: History
    files: tuple[str, ...]
    problems: tuple[FileProblem, ...]
    counts: dict[str, int]


@dataclass(frozen=True, slots=True)
class _Play:
    end: datetime  # UTC
    artist: str
    title: str
    track_id: str | None
    album: str | None
    ms: int
    skipped: bool
    extended: bool


def history_shape(row: Mapping[str, Any] | None) -> str | None:
    """``"account"`` or ``"extended"`` when ``row`` has the fields of that history format, else None."""
    if row is None:
        return None
    keys = row.keys()
    if ACCOUNT_FIELDS <= keys:
        return "account"
    if "ts" in keys and "ms_played" in keys and ("master_metadata_track_name" in keys or "spotify_track_uri" in keys):
        return "extended"
    return None


# -- rows ----------------------------------------------------------------------------------
def _time(text: Any) -> datetime | None:
    """An ISO-8601 timestamp as an aware UTC datetime (naive means UTC); None when unreadable."""
    if not isinstance(text, str):
        return None
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    except (ValueError, OverflowError):  # OverflowError: the UTC time is outside years 1..9999
        return None


def _count(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _row(row: dict[str, Any] | None) -> _Play | str | None:
    """A play, None for rows to ignore (podcasts, nulls), or a string saying what is wrong."""
    if row is None:
        return "not an object"
    if "ms_played" in row or "ts" in row:  # extended streaming history
        timing = _ms_and_end(row, "ms_played", "ts")
        if isinstance(timing, str):
            return timing
        ms, end = timing
        title, artist = row.get("master_metadata_track_name"), row.get("master_metadata_album_artist_name")
        uri = row.get("spotify_track_uri")
        if not title or not artist or not isinstance(uri, str) or not uri.startswith(TRACK_URI_PREFIX):
            return None
        if not isinstance(title, str) or not isinstance(artist, str):
            return "'master_metadata_track_name' or 'master_metadata_album_artist_name' is not text"
        return _Play(end, artist, title, track_id_of_uri(uri), _text(row.get("master_metadata_album_album_name")),
                     ms, row.get("skipped") is True, True)
    if "msPlayed" in row or "endTime" in row:  # account data
        timing = _ms_and_end(row, "msPlayed", "endTime")
        if isinstance(timing, str):
            return timing
        ms, end = timing
        title, artist = row.get("trackName"), row.get("artistName")
        if not title or not artist or (artist, title) == ("Unknown Artist", "Unknown Track"):
            return None
        if not isinstance(title, str) or not isinstance(artist, str):
            return "'trackName' or 'artistName' is not text"
        return _Play(end, artist, title, None, None, ms, False, False)
    return "has neither 'ms_played'/'ts' nor 'msPlayed'/'endTime'"


def _ms_and_end(row: dict[str, Any], ms_field: str, time_field: str) -> tuple[int, datetime] | str:
    """A row's milliseconds played and end time, or a string saying which of the two is wrong."""
    ms, end = row.get(ms_field), _time(row.get(time_field))
    if not _count(ms):
        return f"{ms_field!r} is not a number"
    if end is None:
        return f"{time_field!r} is not a timestamp: {_shown(row.get(time_field))}"
    return ms, end


def _row_end(row: dict[str, Any] | None) -> datetime | None:
    """When a row that is not a play ended (the field :func:`_row` reads for its format), or None."""
    if row is None:
        return None
    return _time(row.get("ts") if "ms_played" in row or "ts" in row else row.get("endTime"))


def _micros(moment: datetime) -> int:
    """``moment`` (aware) in whole microseconds since 1970 (UTC), without float rounding."""
    delta = moment - _EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def _shown(value: Any) -> str:
    """A row value for a message: its repr, at most 60 characters."""
    text = "an array or object" if value is NESTED else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class _Plays:
    """Every play read so far, in columns of machine numbers (~20 bytes a play); tracks once each."""

    def __init__(self, limits: ExportLimits) -> None:
        self.limits = limits
        self.end_us = array("q")  # microseconds since 1970 (UTC)
        self.ms = array("q")
        self.flags = array("B")
        self.track = array("l")  # index into self.tracks
        self.tracks: list[tuple[str, str, str | None, str | None]] = []  # artist, title, album, id
        self._index: dict[tuple[str, str, str | None, str | None], int] = {}
        self._name_chars = 0

    def __len__(self) -> int:
        return len(self.end_us)

    def done(self) -> None:
        """No more plays: drop the lookup table of tracks."""
        self._index.clear()

    def until(self, end_us: int) -> "_Plays":
        """A copy holding only the plays that ended at or before ``end_us`` (same tracks)."""
        part = _Plays(self.limits)
        part.tracks = self.tracks
        for i in range(len(self)):
            if self.end_us[i] <= end_us:
                part.end_us.append(self.end_us[i])
                part.ms.append(self.ms[i])
                part.flags.append(self.flags[i])
                part.track.append(self.track[i])
        return part

    def add(self, play: _Play) -> None:
        """Keep ``play``; ImportStopped past ``max_tracks`` or ``max_name_chars``."""
        key = (play.artist, play.title, play.album, play.track_id)
        index = self._index.get(key)
        if index is None:
            chars = len(play.artist) + len(play.title) + len(play.album or "")
            if len(self.tracks) >= self.limits.max_tracks:
                raise ImportStopped(f"the export names more than {self.limits.max_tracks:,} different tracks, "
                                    f"the most one import keeps")
            if self._name_chars + chars > self.limits.max_name_chars:
                raise ImportStopped(f"the names of the export's tracks add up to more than "
                                    f"{self.limits.max_name_chars:,} characters, the most one import keeps")
            index = self._index[key] = len(self.tracks)
            self.tracks.append(key)
            self._name_chars += chars
        self.end_us.append(_micros(play.end))
        self.ms.append(play.ms)
        self.flags.append((_SKIPPED if play.skipped else 0) | (_EXTENDED if play.extended else 0))
        self.track.append(index)


class _OtherRows:
    """The rows that gave no play, by kind (``ignored``: podcasts, nulls; ``bad_rows``:
    unreadable), with the time each ended, so that a time cut of the log
    (:func:`history_from_plays` with ``until_us``) counts only the rows of its own span."""

    KINDS = ("ignored", "bad_rows")

    def __init__(self) -> None:
        self.ends = {kind: array("q") for kind in self.KINDS}  # microseconds since 1970 (UTC)
        self.untimed: Counter[str] = Counter()  # rows whose time cannot be read

    def add(self, kind: str, end: datetime | None) -> None:
        """Count one row of ``kind`` that ended at ``end`` (None: its time is unreadable)."""
        if end is None:
            self.untimed[kind] += 1
        else:
            self.ends[kind].append(_micros(end))

    def total(self, kind: str) -> int:
        """Every row of ``kind``, timed or not."""
        return len(self.ends[kind]) + self.untimed[kind]

    def extend(self, other: "_OtherRows") -> None:
        """Add the rows of ``other`` (one file's) to these."""
        for kind in self.KINDS:
            self.ends[kind].extend(other.ends[kind])
        self.untimed.update(other.untimed)

    def counts(self, until_us: int | None) -> dict[str, int]:
        """Rows of each kind that ended by ``until_us`` (all rows when None). A row whose time
        cannot be read may belong to any part of the log, so every cut counts it: a part never
        reports fewer problems than it may hold. (Ignored rows always have a time: :func:`_row`
        checks it before it looks at the track.)"""
        if until_us is None:
            return {kind: self.total(kind) for kind in self.KINDS}
        return {kind: sum(1 for t in self.ends[kind] if t <= until_us) + self.untimed[kind] for kind in self.KINDS}


# -- reading files -------------------------------------------------------------------------
@dataclass
class _FileRead:
    """What reading one file gave (filled as it goes, so a stop midway keeps it)."""

    shape: str | None = None
    rows: int = 0
    plays: int = 0
    other: _OtherRows = field(default_factory=_OtherRows)
    first_bad: str = ""
    problem: str | None = None

    @property
    def ignored(self) -> int:
        return self.other.total("ignored")

    @property
    def bad(self) -> int:
        return self.other.total("bad_rows")


def _read_file(candidate: Candidate, plays: _Plays, budget: Budget, read: _FileRead) -> None:
    """Parse one file's rows into ``plays``; ImportStopped (a limit of the import) goes through."""
    try:
        stream = BoundedStream(candidate.open(), budget)
    except FileRefused as exc:
        read.problem = str(exc)
        return
    try:
        for row in json_rows(stream, _WANTED, budget):
            if read.shape is None:
                read.shape = history_shape(row) or ("named" if candidate.named else None)
                if read.shape is None:
                    read.problem = _NOT_A_HISTORY
                    return
            read.rows += 1
            result = _row(row)
            if isinstance(result, _Play):
                plays.add(result)
                read.plays += 1
            elif result is None:
                read.other.add("ignored", _row_end(row))
            else:
                if not read.bad:
                    read.first_bad = f"row {read.rows - 1}: {result}"
                read.other.add("bad_rows", _row_end(row))
    except FileRefused as exc:
        read.problem = str(exc)
    finally:
        stream.close()


def _settle(candidate: Candidate, read: _FileRead, other: _OtherRows, used: list[str],
            problems: list[FileProblem], warnings: list[str], *, stopped: bool) -> bool:
    """Record the outcome of one file (``stopped``: the import stopped inside it); True when it
    was recognised as a history file."""
    if not (candidate.named or read.shape is not None):
        if candidate.given and not stopped:
            problems.append(FileProblem(candidate.name, read.problem or "holds no plays (an empty list)"))
        return False
    if read.plays or read.ignored or (not read.rows and read.problem is None and not stopped):
        used.append(candidate.name)
        other.extend(read.other)
        if read.bad:
            warnings.append(f"{candidate.name}: {read.bad:,} unreadable rows skipped (first: {read.first_bad})")
        if read.problem:
            kept = "the play before that point was" if read.plays == 1 else f"the {read.plays:,} plays before that point were"
            problems.append(FileProblem(candidate.name, f"{read.problem}; {kept} kept"))
    elif read.problem:
        problems.append(FileProblem(candidate.name, read.problem))
    elif read.bad and not stopped:
        problems.append(FileProblem(candidate.name, f"no readable plays (first problem: {read.first_bad})"))
    return True


# -- weighting -----------------------------------------------------------------------------
def _key(artist: str, title: str) -> tuple[str, str]:
    return " ".join(artist.casefold().split()), " ".join(title.casefold().split())


def _weigh(plays: _Plays, counts: Counter[str]) -> HistoryBuilder:
    """Deduplicate the plays, borrow track ids, decay and sum them into a builder.

    The columns are sorted as integers (mixed-radix keys) rather than as objects, so the
    memory of this step is a few dozen bytes a play.
    """
    builder = HistoryBuilder("spotify_export")
    n = len(plays)
    plays.done()
    names: dict[tuple[str, str], int] = {}
    name_of = [names.setdefault(_key(artist, title), len(names)) for artist, title, _, _ in plays.tracks]
    n_names = max(len(names), 1)
    del names
    # The most played id of each (artist, title): account rows, which have none, borrow it.
    per_id: Counter[tuple[int, str]] = Counter()
    for track, n_plays in Counter(plays.track).items():
        if track_id := plays.tracks[track][3]:
            per_id[(name_of[track], track_id)] += n_plays
    best: dict[int, tuple[int, str]] = {}
    for (name, track_id), n_plays in per_id.items():  # first seen wins a tie, as Counter.most_common
        if name not in best or n_plays > best[name][0]:
            best[name] = (n_plays, track_id)
    # One play per (end minute, artist, title): the extended row first, then the first read.
    order = []
    for i in range(n):
        minute = plays.end_us[i] // 60_000_000
        not_extended = 0 if plays.flags[i] & _EXTENDED else 1
        order.append(((minute * n_names + name_of[plays.track[i]]) * 2 + not_extended) * n + i)
    order.sort()
    kept, last = [], None
    for code in order:
        i = code % n
        group = code // n // 2
        if group == last:
            counts["duplicates"] += 1
            continue
        last = group
        kept.append((0 if plays.flags[i] & _EXTENDED else n) + i)
    del order
    kept.sort()  # extended plays first, each format in the order read: the first add names a track
    newest = max(plays.end_us, default=0)
    infos: dict[int, TrackInfo] = {}
    for code in kept:
        i = code % n
        track = plays.track[i]
        info = infos.get(track)
        if info is None:
            artist, title, album, track_id = plays.tracks[track]
            known = best.get(name_of[track])
            info = infos[track] = TrackInfo(track_id=track_id or (known[1] if known else None), title=title,
                                            artists=(artist,), album=album)
        age_days = max(0, newest - plays.end_us[i]) / 1_000_000 / 86400
        decay = 0.5 ** (age_days / HALF_LIFE_DAYS)
        full = plays.ms[i] >= FULL_PLAY_MS and not plays.flags[i] & _SKIPPED
        counts["plays"] += 1
        counts["full_plays" if full else "short_or_skipped"] += 1
        builder.add(info, decay if full else -SKIP_PENALTY * decay, "export",
                    played_at=_EPOCH + timedelta(microseconds=plays.end_us[i]), play=full, skip=not full)
    return builder


@dataclass(frozen=True)
class PlayLog:
    """Every readable play of an export before weighting (:func:`read_plays`), for callers that
    need the plays themselves, e.g. a time split of an export into a history and a future
    (``scripts/evaluate_listeners.py``)."""

    plays: _Plays
    other_rows: _OtherRows
    files: tuple[str, ...]
    problems: tuple[FileProblem, ...]
    warnings: tuple[str, ...]

    @property
    def counts(self) -> dict[str, int]:
        """The log-wide ``ignored`` and ``bad_rows`` counts (every file used, every time)."""
        return self.other_rows.counts(None)

    def span_us(self) -> tuple[int, int]:
        """The first and last play's end, in microseconds since 1970 (UTC); (0, 0) without plays."""
        ends = self.plays.end_us
        return (min(ends), max(ends)) if len(ends) else (0, 0)

    def full_play_artists(self, after_us: int) -> list[str]:
        """The artist of every full play (≥ 30 s, not skipped) that ended after ``after_us``."""
        p = self.plays
        return [p.tracks[p.track[i]][0] for i in range(len(p))
                if p.end_us[i] > after_us and p.ms[i] >= FULL_PLAY_MS and not p.flags[i] & _SKIPPED]


def read_plays(source: Source, *, name: str | None = None, limits: ExportLimits = LIMITS) -> PlayLog:
    """The plays of a Spotify data export, unweighted: the first half of :func:`read_export`
    (same ``source`` forms, limits and errors)."""
    budget = Budget(limits)
    problems: list[FileProblem] = []
    warnings: list[str] = []
    other_rows = _OtherRows()
    plays = _Plays(limits)
    used: list[str] = []
    containers: dict[str, bool] = {}
    stopped: str | None = None
    files = candidates(source, name, budget, problems, containers)
    try:
        for candidate in files:
            read = _FileRead()
            try:
                _read_file(candidate, plays, budget, read)
            except ImportStopped as exc:
                stopped = str(exc)
            # Also when the import stopped inside this file: the plays read from it are kept.
            if _settle(candidate, read, other_rows, used, problems, warnings, stopped=stopped is not None) \
                    and candidate.container:
                containers[candidate.container] = True
            if stopped is not None:
                break
    finally:
        files.close()
    if stopped is None:
        problems.extend(FileProblem(c, "holds no streaming history (expected StreamingHistory_music_*.json or "
                                       "Streaming_History_Audio_*.json, or JSON lists of plays)")
                        for c, found in containers.items() if not found)
    if not used:
        detail = "; ".join([str(p) for p in problems] + ([f"reading stopped: {stopped}"] if stopped else []))
        raise ExportError(f"Could not read any streaming history: {detail or 'no files given'}.")
    if stopped:
        warnings.append(f"Stopped reading: {stopped}; what was read before that point was used.")
    return PlayLog(plays=plays, other_rows=other_rows, files=tuple(used), problems=tuple(problems),
                   warnings=tuple(warnings + [str(p) for p in problems]))


def history_from_plays(log: PlayLog, *, until_us: int | None = None) -> tuple[History, dict[str, int]]:
    """Weigh the plays of ``log`` (only those that ended by ``until_us`` when given) into a
    :class:`History`, as an upload of them would be: the second half of :func:`read_export`.

    Returns the history and its counts (``plays``, ``full_plays``, ``short_or_skipped``,
    ``ignored``, ``duplicates``, ``bad_rows``). With ``until_us`` every count describes the
    history returned: only rows that ended by ``until_us`` are counted, and an unreadable row
    whose time cannot be read is counted in every cut (it may belong to any); :attr:`PlayLog.counts` keeps
    the log-wide ones. The log's warnings (about its files) become the history's.
    """
    counts: Counter[str] = Counter(log.other_rows.counts(until_us))
    plays = log.plays if until_us is None else log.plays.until(until_us)
    builder = _weigh(plays, counts)
    builder.warnings.extend(log.warnings)
    for key in ("plays", "full_plays", "short_or_skipped", "ignored", "duplicates", "bad_rows"):
        counts.setdefault(key, 0)
    builder.counts.update(counts)
    return builder.build(), dict(counts)


def read_export(source: Source, *, name: str | None = None, limits: ExportLimits = LIMITS) -> ExportResult:
    """Import a Spotify data export.

    Parameters
    ----------
    source
        A path (a ``.zip``, a ``.json`` or a folder), the bytes of a zip or JSON file (``name``
        is used in messages), or an iterable of ``(name, bytes)`` pairs / uploaded files with
        ``.name`` and ``.getvalue()`` (each may itself be a zip).
    name
        The display name of ``source`` when it is bytes.
    limits
        The bounds of this import (:data:`spotify.export_limits.LIMITS` by default).

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
    log = read_plays(source, name=name, limits=limits)
    history, counts = history_from_plays(log)
    return ExportResult(history=history, files=log.files, problems=log.problems, counts=counts)
