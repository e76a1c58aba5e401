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
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from engine.core.files import atomic_write_text

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

    Files are rewritten atomically; a file left with no lines is deleted.
    """
    removed = 0
    for path in _event_files(events_dir):
        with open(path, encoding="utf-8") as fh:
            lines = fh.readlines()
        keep = [line for line in lines if not _belongs_to(line, user_id)]
        if len(keep) == len(lines):
            continue
        removed += len(lines) - len(keep)
        if keep:
            atomic_write_text(path, "".join(keep))
        else:
            path.unlink(missing_ok=True)
    return removed


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
