"""A stream of realistic listening events, for demos and load tests (``python -m engine replay``).

It plays the part of a Kafka producer in front of the stream. Events look like the app's
(:class:`engine.state.events.ListeningEvent`, same fields and kinds, ``ts`` = now); :func:`replay`
sends them in batches at a given rate (:func:`parse_rate`) to a writer: the events dir
(:func:`dir_writer`: one JSON-lines file per flush, written atomically by
:func:`engine.state.events.write_events`) or a Kafka topic
(:class:`engine.streaming.kafka_bridge.KafkaEventWriter`, wired by :mod:`engine.commands.replay`).

Who listens to what (:class:`EventGenerator`):

- listeners come from the demo listeners (:func:`demo_history`: ``data/parquet/interactions_demo``,
  else the current bundle's ``demo_history`` table) or from a playlist file
  (:func:`playlist_history`: one listener playing it);
- an active listener is picked more often (probability ∝ their number of tracks);
- with probability ``1 − explore`` they replay one of their tracks (∝ its play count);
  otherwise they discover one through a co-listener: a random track of theirs, a random other
  listener of that track, a track of that listener (∝ play count) — the item-to-item walk that
  collaborative filtering models, so the new (listener, track) pairs are learnable and a
  refresh has something to evaluate on;
- kinds: mostly plays, some likes and saves (the app's kinds).
"""

from __future__ import annotations

import csv
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from engine.bundle.load import load_current
from engine.core.config import Settings
from engine.core.errors import BundleError, InputError
from engine.state.events import LIKE, PLAY, SAVE, ListeningEvent, write_events

#: Share of each kind among replayed events (the app's kinds).
KIND_MIX: tuple[tuple[str, float], ...] = ((PLAY, 0.88), (LIKE, 0.07), (SAVE, 0.05))
_TRACK_ID = re.compile(r"(?:spotify:track:|open\.spotify\.com/(?:intl-[a-z-]+/)?track/)?([0-9A-Za-z]{22})\b")


def parse_rate(text: str) -> float:
    """``"50/s"``, ``"3000/m"``, ``"10/h"`` or ``"25"`` (per second) -> events per second; 0 = no limit."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(?:/\s*([smh]))?\s*", str(text))
    if not m:
        raise InputError(f"--rate {text!r}: expected N/s, N/m, N/h or N (0 = as fast as possible)")
    per = {"s": 1.0, "m": 60.0, "h": 3600.0}[m.group(2) or "s"]
    return float(m.group(1)) / per


# -- who listens ---------------------------------------------------------------------------------


def demo_history(settings: Settings) -> pd.DataFrame:
    """The demo listeners' ``user_id, track_id, weight``: parquet if present, else the current bundle's table."""
    path = settings.parquet_dir / "interactions_demo"
    if path.exists():
        return pd.read_parquet(path, columns=["user_id", "track_id", "weight"])

    try:
        table = load_current(settings.models_dir, fallback_dir=settings.demo_bundle_dir).tables.get("demo_history")
    except BundleError:
        table = None
    if table is None or table.empty:
        raise InputError(
            f"no demo listeners: {path} is missing and no bundle ships demo_history (run `python -m engine prepare`)"
        )
    return table[["user_id", "track_id", "weight"]]


def playlist_history(path: Path, *, user_id: str = "replay:playlist") -> pd.DataFrame:
    """A playlist file as one listener's history (weight 1 per track).

    Accepts the app's CSV export (a ``track_id``/``uri``/``spotify_url`` column), a Spotify playlist
    JSON (``items[].track`` or ``items[].item``) or a text file with one id, URI or URL per line.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    ids: list[str] = []
    if path.suffix.lower() == ".json":
        try:
            doc = json.loads(text)
        except ValueError as exc:
            raise InputError(f"{path}: not valid JSON ({exc})") from None
        entries = doc.get("items", doc.get("tracks", [])) if isinstance(doc, dict) else doc
        for entry in entries if isinstance(entries, list) else []:
            track = (entry.get("track") or entry.get("item") or entry) if isinstance(entry, dict) else entry
            ids.append(str(track.get("id") or track.get("uri") or "") if isinstance(track, dict) else str(track))
    elif path.suffix.lower() == ".csv":
        rows = list(csv.DictReader(text.splitlines()))
        names = ("track_id", "uri", "track_uri", "spotify_uri", "spotify_url", "id")
        col = next((c for c in names if rows and c in rows[0]), None)
        if col is None:
            raise InputError(f"{path}: no track_id, uri or spotify_url column")
        ids = [r[col] or "" for r in rows]
    else:
        ids = text.splitlines()
    found = [m.group(1) for m in (_TRACK_ID.search(i.strip()) for i in ids) if m]
    if not found:
        raise InputError(f"{path}: no Spotify track ids found")
    unique = list(dict.fromkeys(found))
    return pd.DataFrame({"user_id": user_id, "track_id": unique, "weight": 1.0})


class EventGenerator:
    """Endless realistic events over a history table (see the module docstring)."""

    def __init__(
        self,
        history: pd.DataFrame,
        *,
        seed: int = 42,
        explore: float = 0.3,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        h = history[history["weight"] > 0].groupby(["user_id", "track_id"], as_index=False)["weight"].sum()
        if h.empty:
            raise InputError("no listening history to replay")
        if not 0 <= explore <= 1:
            raise InputError(f"--explore {explore}: must be between 0 and 1")
        self.rng = np.random.default_rng(seed)
        self.explore = float(explore)
        self.clock = clock
        users = pd.Categorical(h["user_id"])
        tracks = pd.Categorical(h["track_id"])
        self.user_ids = np.asarray(users.categories, dtype=object)
        self.track_ids = np.asarray(tracks.categories, dtype=object)
        u, t, w = users.codes.astype(np.int64), tracks.codes.astype(np.int64), h["weight"].to_numpy(np.float64)
        by_user = np.lexsort((t, u))
        self.u_tracks, self.u_cum = t[by_user], w[by_user]
        self.u_ptr = np.searchsorted(u[by_user], np.arange(len(self.user_ids) + 1))
        # cumulative weights per user, for O(log n) weighted draws
        self.u_cum = np.concatenate([np.cumsum(self.u_cum[a:b]) for a, b in zip(self.u_ptr[:-1], self.u_ptr[1:])])
        by_track = np.lexsort((u, t))
        self.t_users = u[by_track]
        self.t_ptr = np.searchsorted(t[by_track], np.arange(len(self.track_ids) + 1))
        sizes = np.diff(self.u_ptr).astype(np.float64)
        self.p_user = sizes / sizes.sum()
        self.kinds = [k for k, _ in KIND_MIX]
        shares = np.array([s for _, s in KIND_MIX])
        self.p_kind = shares / shares.sum()

    def _own_track(self, user: int) -> int:
        a, b = self.u_ptr[user], self.u_ptr[user + 1]
        cum = self.u_cum[a:b]
        return int(self.u_tracks[a + int(np.searchsorted(cum, self.rng.random() * cum[-1], side="right"))])

    def next_event(self) -> ListeningEvent:
        """One event: a listener, a track (replayed or discovered), a kind, ``ts`` = now."""
        user = int(self.rng.choice(len(self.user_ids), p=self.p_user))
        track = self._own_track(user)
        if self.rng.random() < self.explore:
            a, b = self.t_ptr[track], self.t_ptr[track + 1]
            others = self.t_users[a:b]
            others = others[others != user]
            if len(others):
                track = self._own_track(int(others[self.rng.integers(len(others))]))
        kind = self.kinds[int(self.rng.choice(len(self.kinds), p=self.p_kind))]
        now = self.clock() if self.clock is not None else None
        return ListeningEvent.new(str(self.user_ids[user]), str(self.track_ids[track]), kind, now=now)

    def __iter__(self) -> Iterator[ListeningEvent]:
        while True:
            yield self.next_event()


# -- where events go -----------------------------------------------------------------------------


@dataclass
class ReplayReport:
    """What a replay sent."""

    target: str
    events: int = 0
    flushes: int = 0
    users: int = 0
    kinds: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def summary(self) -> str:
        """One line for people."""
        rate = self.events / self.seconds if self.seconds > 0 else float("inf")
        kinds = ", ".join(f"{k} {n:,}" for k, n in sorted(self.kinds.items()))
        return (
            f"replayed {self.events:,} events of {self.users:,} listeners to {self.target} in {self.flushes:,} "
            f"writes, {self.seconds:.1f}s ({rate:,.0f} events/s): {kinds}"
        )


def replay(
    events: Iterator[ListeningEvent],
    write: Callable[[list[ListeningEvent]], None],
    *,
    target: str,
    limit: int = 1000,
    rate: float = 0.0,
    batch_size: int = 1000,
    flush_seconds: float = 1.0,
    stop: threading.Event | None = None,
) -> ReplayReport:
    """Send ``limit`` events (0 = until ``stop``) at ``rate`` per second (0 = unthrottled).

    Events are handed to ``write`` in batches of at most ``batch_size``, and at least every
    ``flush_seconds`` while events flow, so a paced replay lands steadily.
    """
    stop = stop or threading.Event()
    report = ReplayReport(target)
    users: set[str] = set()
    buf: list[ListeningEvent] = []
    start = last_flush = time.monotonic()

    def flush() -> None:
        nonlocal buf, last_flush
        if buf:
            write(buf)
            report.flushes += 1
        buf, last_flush = [], time.monotonic()

    try:
        while (limit <= 0 or report.events < limit) and not stop.is_set():
            if rate > 0:
                wait = start + report.events / rate - time.monotonic()
                if wait > 0:
                    if buf and time.monotonic() - last_flush + wait >= flush_seconds:
                        flush()
                    if stop.wait(wait):
                        break
            event = next(events)
            buf.append(event)
            users.add(event.user_id)
            report.kinds[event.kind] = report.kinds.get(event.kind, 0) + 1
            report.events += 1
            if len(buf) >= batch_size or time.monotonic() - last_flush >= flush_seconds:
                flush()
    except KeyboardInterrupt:
        pass  # Ctrl-C ends an open-ended replay: land what is buffered and report
    flush()
    report.users = len(users)
    report.seconds = round(time.monotonic() - start, 3)
    return report


def dir_writer(events_dir: Path) -> Callable[[list[ListeningEvent]], None]:
    """Write each batch as one new events file (the app's writer: atomic rename)."""

    def write(batch: list[ListeningEvent]) -> None:
        write_events(events_dir, batch)

    return write
