"""Listening events as JSON lines: what the app writes for the engine's next refresh.

Each line is one event::

    {"event_id": "…", "user_id": "sp:3f…", "track_id": "4uLU6hMC…", "kind": "like", "weight": 3.0,
     "ts": "2026-01-31T12:00:00.000000+00:00"}

``user_id`` is the app's privacy-preserving key (a salted hash of the Spotify account, or a
random demo-session id), never an account id. ``kind`` is one of :data:`KIND_WEIGHTS` — the
vocabulary ``engine.ingest.readers.events`` reads (``play``, ``save``, ``like`` add interactions;
``dislike`` cancels the pair; ``recommended`` records exposure only; ``exclude``, a history
track the listener unticked, cancels the pair like a dislike) — and ``weight`` is the evidence
the event adds (the reader's defaults; negative for a dislike or an exclusion, 0 for an exposure).

Every call of :func:`write_events` creates one new file ``events-<utc>-<random>.jsonl``, written
under a dot-name and renamed into place: Spark's file source (batch or Structured Streaming)
then sees each file exactly once and never a half-written one, which appending to a shared
file could not promise. Spark and the pandas reader both skip names starting with ``.``.

"Forget me" (:func:`forget_user`) rewrites the files that hold a listener's lines, and
:func:`compact_events` merges small old files into bigger ones, so that forgetting opens a few
files instead of one per click. Both read, change and replace files, so they take turns under
one lock, ``<events dir>/.events.lock`` (:func:`engine.core.locking.flock_exclusive`): two
listeners forgotten at once are both gone, never one of them put back by the other's rewrite.
Merged files keep every line byte for byte, event ids included, so the stream and the batch
reader, which both drop an event id they have seen, count a merged event once. Only files
older than :data:`COMPACT_MIN_AGE_S` are merged: a running stream has read them long before.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from engine.core.files import atomic_write_text
from engine.core.locking import LockHeld, flock_exclusive

logger = logging.getLogger(__name__)

RECOMMENDED, PLAY, LIKE, DISLIKE, SAVE = "recommended", "play", "like", "dislike", "save"
#: Evidence per event kind, in the units of one play (``engine.ingest.readers.events`` uses the same
#: defaults for the positive kinds; a test keeps the two in step).
KIND_WEIGHTS: dict[str, float] = {RECOMMENDED: 0.0, PLAY: 1.0, LIKE: 3.0, DISLIKE: -3.0, SAVE: 2.0}
#: A history track the listener unticked ("not my taste", engine.serving.exclusions): evidence
#: against the pair, a third of a dislike's (it judges a listen, not the song), and like a
#: dislike it cancels the (user, track) pair in training when it is the pair's latest event.
EXCLUDE = "exclude"
KIND_WEIGHTS[EXCLUDE] = -1.0
EVENT_FIELDS: tuple[str, ...] = ("event_id", "user_id", "track_id", "kind", "weight", "ts")
#: The lock "Forget me" and compaction share (a dot-name: no reader takes it for events).
LOCK_FILE = ".events.lock"
#: Files smaller than this are merged into files of up to :data:`COMPACT_TARGET_BYTES` ...
COMPACT_BELOW_BYTES = 1 << 20
COMPACT_TARGET_BYTES = 8 << 20
#: ... once this many of them, each at least :data:`COMPACT_MIN_AGE_S` old, have gathered.
COMPACT_AFTER_FILES = 64
COMPACT_MIN_AGE_S = 600.0
_MERGED = "-merged"
#: Ids made only of these are written by json.dumps as they are, so a file whose bytes do not
#: contain the id holds none of its lines (the app's keys, ``sp:<hex>`` / ``demo:<hex>``, are).
_PLAIN_ID = re.compile(r"^[A-Za-z0-9:_.\-]+$")


@dataclass(frozen=True)
class ListeningEvent:
    """One line of an events file (field names are the file format)."""

    event_id: str
    user_id: str
    track_id: str
    kind: str
    weight: float
    ts: str

    @classmethod
    def new(cls, user_id: str, track_id: str, kind: str, *, now: datetime | None = None) -> "ListeningEvent":
        """An event with a fresh id, the kind's weight and the current UTC time."""
        if kind not in KIND_WEIGHTS:
            raise ValueError(f"event kind {kind!r} is not one of {', '.join(KIND_WEIGHTS)}")
        stamp = (now or datetime.now(UTC)).isoformat(timespec="microseconds")
        return cls(uuid.uuid4().hex, user_id, track_id, kind, KIND_WEIGHTS[kind], stamp)

    @property
    def epoch(self) -> float:
        """``ts`` as seconds since the epoch."""
        return datetime.fromisoformat(self.ts).timestamp()


def write_events(events_dir: Path, events: Iterable[ListeningEvent]) -> Path | None:
    """Write ``events`` as one new JSON-lines file in ``events_dir``; return its path.

    Nothing is written (and ``None`` returned) when ``events`` is empty.
    """
    lines = [json.dumps(asdict(e), ensure_ascii=False) for e in events]
    if not lines:
        return None
    events_dir = Path(events_dir)
    events_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    final = events_dir / f"events-{stamp}-{secrets.token_hex(4)}.jsonl"
    atomic_write_text(final, "\n".join(lines) + "\n")
    try:
        compact_events(events_dir, wait=False)
    except LockHeld:
        pass  # a "Forget me" is rewriting files: compaction waits for the next write
    except OSError as exc:  # compaction is housekeeping: the events are written
        logger.warning("events compaction skipped: %s", exc)
    return final


def read_events(events_dir: Path) -> Iterator[ListeningEvent]:
    """Every event in ``events_dir`` (files in name order, i.e. by time); malformed lines skipped."""
    for path in _event_files(events_dir):
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                try:
                    record = json.loads(line)
                    yield ListeningEvent(**{k: record[k] for k in EVENT_FIELDS})
                except (json.JSONDecodeError, KeyError, TypeError):
                    continue


def forget_user(events_dir: Path, user_id: str) -> int:
    """Remove ``user_id``'s lines from every events file not yet consumed; return how many.

    Files are rewritten atomically under the events lock (see the module docstring); a file
    left with no lines is deleted. Files whose bytes do not contain the id are not parsed.
    """
    events_dir = Path(events_dir)
    if not events_dir.is_dir():
        return 0
    needle = user_id.encode("utf-8") if _PLAIN_ID.match(user_id) else None
    removed = 0
    with flock_exclusive(events_dir / LOCK_FILE):
        for path in _event_files(events_dir):
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                continue  # consumed and removed meanwhile
            if needle is not None and needle not in data:
                continue
            lines = data.decode("utf-8").splitlines(keepends=True)
            keep = [line for line in lines if not _belongs_to(line, user_id)]
            if len(keep) == len(lines):
                continue
            removed += len(lines) - len(keep)
            if keep:
                atomic_write_text(path, "".join(keep))
            else:
                path.unlink(missing_ok=True)
    return removed


def compact_events(
    events_dir: Path,
    *,
    wait: bool = True,
    after_files: int = COMPACT_AFTER_FILES,
    min_age_s: float = COMPACT_MIN_AGE_S,
    below_bytes: int = COMPACT_BELOW_BYTES,
    target_bytes: int = COMPACT_TARGET_BYTES,
) -> int:
    """Merge runs of small, old events files (in name order) into files of up to
    ``target_bytes``, once at least ``after_files`` such files exist; return how many were merged.

    Each merged file is named after the first file of its run (``…-merged.jsonl``), so the
    files keep their time order, and written atomically before the run's files are removed: a
    crash in between leaves events twice, which every reader counts once (by event id).
    ``wait=False`` raises :class:`engine.core.locking.LockHeld` instead of waiting for a
    "Forget me" in progress (how :func:`write_events` calls it).
    """
    events_dir = Path(events_dir)
    if len(_small_old_files(events_dir, min_age_s, below_bytes)) < after_files:
        return 0
    merged = 0
    with flock_exclusive(events_dir / LOCK_FILE, wait=wait):
        small = _small_old_files(events_dir, min_age_s, below_bytes)
        run: list[Path] = []
        size = 0
        for path in [*_event_files(events_dir), None]:  # None closes the last run
            if path is not None and path in small:
                run.append(path)
                size += small[path]
                if size < target_bytes:
                    continue
            if len(run) > 1:
                merged += _merge(run)
            run, size = [], 0
    return merged


def _merge(run: list[Path]) -> int:
    """Write the lines of ``run`` (in order, byte for byte) as one file, then remove the others."""
    base = re.sub(f"({_MERGED})+$", "", run[0].stem)
    out = run[0].with_name(f"{base}{_MERGED}.jsonl")
    parts = [p.read_text(encoding="utf-8") for p in run]
    atomic_write_text(out, "".join(t if t.endswith("\n") or not t else t + "\n" for t in parts))
    for path in run:
        if path != out:
            path.unlink(missing_ok=True)
    return len(run)


def _small_old_files(events_dir: Path, min_age_s: float, below_bytes: int) -> dict[Path, int]:
    """Files smaller than ``below_bytes`` and older than ``min_age_s`` -> their size."""
    cutoff = time.time() - min_age_s
    out = {}
    for path in _event_files(events_dir):
        try:
            st = path.stat()
        except FileNotFoundError:
            continue
        if st.st_size < below_bytes and st.st_mtime <= cutoff:
            out[path] = st.st_size
    return out


def _belongs_to(line: str, user_id: str) -> bool:
    try:
        return json.loads(line).get("user_id") == user_id
    except (json.JSONDecodeError, AttributeError):
        return False


def _event_files(events_dir: Path) -> list[Path]:
    events_dir = Path(events_dir)
    if not events_dir.is_dir():
        return []
    return sorted(p for p in events_dir.glob("*.jsonl") if not p.name.startswith((".", "_")))
