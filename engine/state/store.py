"""SQLite app state: listening events, feedback, saved playlists and an item-item table.

One file (``Settings.store_path``) shared by the app and the engine. WAL mode, so the engine
can read while the app writes; every statement is parameterized. Each operation opens its own
short-lived connection: Streamlit runs every session in its own thread and ``sqlite3``
connections must not cross threads, and an open/close costs microseconds next to a page run.

Listeners are identified only by a ``user_key`` the app derives (never the Spotify account id
itself): a salted hash of the account id (:meth:`Store.user_key_for`: salt derived from
``APP_STATE_SECRET``, else kept in this database) or a random session id for demo sessions.
:meth:`Store.forget` deletes everything kept for one key.

Tables
------
``events``        event_id, user_key, track_id, kind, weight, ts (what was recommended/played/...)
``feedback``      user_key, target ('track' | 'artist'), target_id, value (+1 like, -1 dislike), ts
``playlists``     user_key, playlist_id, name, url, n_tracks, public, created_at, updated_at
``similar_tracks`` track_id, other_id, score, method (``python -m engine similarity``: minhash, word2vec, ...)
``forgotten``     user_key, ts (tombstones of "Forget me": the engine drops these listeners' rows)
``topic_labels``   topic, label (LDA topics over genres; label = top terms)
``track_topics``   track_id, topic, weight (each track's dominant topic)
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from engine.state.events import KIND_WEIGHTS

#: Bump when a table changes; :meth:`Store.__init__` creates missing tables.
STORE_SCHEMA_VERSION = 1
EVENT_KINDS: tuple[str, ...] = tuple(KIND_WEIGHTS)
_TABLES: tuple[str, ...] = ("events", "feedback", "playlists", "similar_tracks", "topic_labels", "track_topics")
FEEDBACK_TARGETS: tuple[str, ...] = ("track", "artist")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    event_id TEXT PRIMARY KEY,
    user_key TEXT NOT NULL,
    track_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    weight REAL NOT NULL,
    ts REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS events_user ON events (user_key);
CREATE TABLE IF NOT EXISTS feedback (
    user_key TEXT NOT NULL,
    target TEXT NOT NULL CHECK (target IN ('track', 'artist')),
    target_id TEXT NOT NULL,
    value INTEGER NOT NULL CHECK (value IN (-1, 1)),
    ts REAL NOT NULL,
    PRIMARY KEY (user_key, target, target_id)
);
CREATE TABLE IF NOT EXISTS playlists (
    user_key TEXT NOT NULL,
    playlist_id TEXT NOT NULL,
    name TEXT NOT NULL,
    url TEXT NOT NULL,
    n_tracks INTEGER NOT NULL,
    public INTEGER NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (user_key, playlist_id)
);
CREATE TABLE IF NOT EXISTS similar_tracks (
    track_id TEXT NOT NULL,
    other_id TEXT NOT NULL,
    score REAL NOT NULL,
    method TEXT NOT NULL,
    PRIMARY KEY (track_id, method, other_id)
);
CREATE INDEX IF NOT EXISTS similar_by_score ON similar_tracks (track_id, method, score DESC);
CREATE TABLE IF NOT EXISTS forgotten (user_key TEXT PRIMARY KEY, ts REAL NOT NULL);
CREATE TABLE IF NOT EXISTS topic_labels (topic INTEGER PRIMARY KEY, label TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS track_topics (
    track_id TEXT PRIMARY KEY,
    topic INTEGER NOT NULL,
    weight REAL NOT NULL
);
"""


@dataclass(frozen=True)
class Event:
    """One listening event; ``weight`` is the evidence it adds (``engine.state.events.KIND_WEIGHTS``)."""

    event_id: str
    user_key: str
    track_id: str
    kind: str
    weight: float
    ts: float


@dataclass(frozen=True)
class Feedback:
    """A listener's current likes and dislikes (sets of ids / artist names)."""

    liked_tracks: frozenset[str] = frozenset()
    disliked_tracks: frozenset[str] = frozenset()
    liked_artists: frozenset[str] = frozenset()
    disliked_artists: frozenset[str] = frozenset()


@dataclass(frozen=True)
class SavedPlaylist:
    """A playlist the app saved for a listener."""

    playlist_id: str
    name: str
    url: str
    n_tracks: int
    public: bool
    created_at: float
    updated_at: float


class Store:
    """The app's SQLite database at ``path`` (created with its tables on first use).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> store = Store(pathlib.Path(tempfile.mkdtemp()) / "app.sqlite")
    >>> store.set_feedback("demo:abc", target="track", target_id="t1", value=-1)
    >>> sorted(store.feedback("demo:abc").disliked_tracks)
    ['t1']
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as con:
            # WAL persists in the file: readers (the engine) never block the app's writes.
            con.execute("PRAGMA journal_mode=WAL")
            con.executescript(_SCHEMA)
            con.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
                (str(STORE_SCHEMA_VERSION),),
            )
            # A random per-installation salt, used when APP_STATE_SECRET is unset (user_key_for):
            # the stored keys cannot be reversed to account ids by anyone without this file.
            con.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('salt', ?)", (secrets.token_hex(16),))

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        con = sqlite3.connect(self.path, timeout=10.0)
        try:
            con.execute("PRAGMA foreign_keys=ON")
            with con:  # commit on success, roll back on error
                yield con
        finally:
            con.close()

    # -- identity ------------------------------------------------------------------------
    def user_key_for(self, account_id: str, *, secret: str = "") -> str:
        """The stored key of a Spotify account: ``sp:`` + HMAC-SHA256(salt, id), 32 hex chars.

        With ``secret`` (``APP_STATE_SECRET``) the salt is derived from it, so keys stay the same
        when this database is lost (an ephemeral disk, a new replica) and the account id still
        cannot be recovered without the secret; rotating the secret starts new keys. Without a
        secret, the random salt kept in this database.
        """
        if secret:
            salt = hmac.new(secret.encode("utf-8"), b"music-recommender/listener-id-salt", hashlib.sha256).hexdigest()
        else:
            with self._connect() as con:
                salt = con.execute("SELECT value FROM meta WHERE key = 'salt'").fetchone()[0]
        digest = hmac.new(salt.encode(), account_id.encode("utf-8"), hashlib.sha256).hexdigest()
        return f"sp:{digest[:32]}"

    @staticmethod
    def new_session_key() -> str:
        """A random key for a demo session (nothing links it to a person)."""
        return f"demo:{uuid.uuid4().hex}"

    # -- events --------------------------------------------------------------------------
    def add_events(self, events: Iterable[Event]) -> int:
        """Insert events (an existing ``event_id`` is ignored); return how many were new."""
        rows = [(e.event_id, e.user_key, e.track_id, e.kind, float(e.weight), float(e.ts)) for e in events]
        for row in rows:
            if row[3] not in EVENT_KINDS:
                raise ValueError(f"event kind {row[3]!r} is not one of {', '.join(EVENT_KINDS)}")
        with self._connect() as con:
            before = con.total_changes
            con.executemany("INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?, ?, ?)", rows)
            return con.total_changes - before

    def events(self, user_key: str, *, kind: str | None = None) -> list[Event]:
        """A listener's events, oldest first (optionally of one ``kind``)."""
        sql = "SELECT event_id, user_key, track_id, kind, weight, ts FROM events WHERE user_key = ?"
        args: tuple[str, ...] = (user_key,)
        if kind is not None:
            sql += " AND kind = ?"
            args += (kind,)
        with self._connect() as con:
            return [Event(*row) for row in con.execute(sql + " ORDER BY ts, rowid", args)]

    # -- feedback ------------------------------------------------------------------------
    def set_feedback(self, user_key: str, *, target: str, target_id: str, value: int) -> None:
        """Record a like (``value=1``) or dislike (``-1``) of a track id or an artist name;
        ``value=0`` removes it. The latest call for the same target wins."""
        if target not in FEEDBACK_TARGETS:
            raise ValueError(f"feedback target {target!r} is not one of {', '.join(FEEDBACK_TARGETS)}")
        with self._connect() as con:
            if value == 0:
                con.execute(
                    "DELETE FROM feedback WHERE user_key = ? AND target = ? AND target_id = ?",
                    (user_key, target, target_id),
                )
                return
            if value not in (-1, 1):
                raise ValueError(f"feedback value {value!r} must be -1, 0 or 1")
            con.execute(
                "INSERT INTO feedback VALUES (?, ?, ?, ?, ?) ON CONFLICT (user_key, target, target_id) "
                "DO UPDATE SET value = excluded.value, ts = excluded.ts",
                (user_key, target, target_id, value, time.time()),
            )

    def feedback(self, user_key: str) -> Feedback:
        """The listener's current feedback as sets."""
        with self._connect() as con:
            rows = con.execute(
                "SELECT target, target_id, value FROM feedback WHERE user_key = ?", (user_key,)
            ).fetchall()
        pick = lambda t, v: frozenset(i for target, i, value in rows if target == t and value == v)  # noqa: E731
        return Feedback(pick("track", 1), pick("track", -1), pick("artist", 1), pick("artist", -1))

    # -- playlists -----------------------------------------------------------------------
    def save_playlist(
        self, user_key: str, *, playlist_id: str, name: str, url: str, n_tracks: int, public: bool
    ) -> None:
        """Remember (or update) a playlist the app saved for the listener."""
        now = time.time()
        with self._connect() as con:
            con.execute(
                "INSERT INTO playlists VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (user_key, playlist_id) DO UPDATE SET name = excluded.name, "
                "url = excluded.url, n_tracks = excluded.n_tracks, public = excluded.public, "
                "updated_at = excluded.updated_at",
                (user_key, playlist_id, name, url, int(n_tracks), int(public), now, now),
            )

    def playlists(self, user_key: str) -> list[SavedPlaylist]:
        """The listener's saved playlists, most recently updated first."""
        with self._connect() as con:
            rows = con.execute(
                "SELECT playlist_id, name, url, n_tracks, public, created_at, updated_at FROM playlists "
                "WHERE user_key = ? ORDER BY updated_at DESC, rowid DESC",
                (user_key,),
            ).fetchall()
        return [SavedPlaylist(r[0], r[1], r[2], r[3], bool(r[4]), r[5], r[6]) for r in rows]

    # -- privacy -------------------------------------------------------------------------
    def forget(self, user_key: str) -> dict[str, int]:
        """Delete every event, feedback and playlist record of ``user_key``; return counts."""
        counts = {}
        with self._connect() as con:
            for table in ("events", "feedback", "playlists"):  # fixed names, never user input
                counts[table] = con.execute(f"DELETE FROM {table} WHERE user_key = ?", (user_key,)).rowcount
            # A tombstone (the key only, already a salted hash): events the engine ingested
            # before this moment are dropped from its parquet at the next refresh/train.
            con.execute("INSERT OR REPLACE INTO forgotten VALUES (?, ?)", (user_key, time.time()))
        return counts

    def forgotten_keys(self) -> set[str]:
        """Every ``user_key`` that asked to be forgotten (the engine drops their interactions)."""
        with self._connect() as con:
            return {row[0] for row in con.execute("SELECT user_key FROM forgotten")}

    # -- item-item similarity (written by a batch job, read by the app) -------------------
    def put_similar(self, rows: Iterable[tuple[str, str, float]], *, method: str) -> int:
        """Insert or replace ``(track_id, other_id, score)`` rows computed by ``method``."""
        data = [(a, b, float(s), method) for a, b, s in rows]
        with self._connect() as con:
            con.executemany("INSERT OR REPLACE INTO similar_tracks VALUES (?, ?, ?, ?)", data)
        return len(data)

    def similar(self, track_id: str, *, method: str, limit: int = 20) -> list[tuple[str, float]]:
        """Stored neighbours of ``track_id`` by ``method``, best first."""
        with self._connect() as con:
            rows = con.execute(
                "SELECT other_id, score FROM similar_tracks WHERE track_id = ? AND method = ? "
                "ORDER BY score DESC LIMIT ?",
                (track_id, method, int(limit)),
            ).fetchall()
        return [(r[0], float(r[1])) for r in rows]

    def replace_similar(self, rows: Iterable[tuple[str, str, float]], *, method: str) -> int:
        """Replace every row of ``method`` with ``rows`` in one transaction (readers see the old
        or the new table, never a mix); a repeated ``(track_id, other_id)`` keeps its last score."""
        data = [(a, b, float(s), method) for a, b, s in rows]
        with self._connect() as con:
            con.execute("DELETE FROM similar_tracks WHERE method = ?", (method,))
            con.executemany("INSERT OR REPLACE INTO similar_tracks VALUES (?, ?, ?, ?)", data)
        return len(data)

    def similar_all(self, track_id: str, *, limit: int = 20) -> list[tuple[str, float, str]]:
        """Stored neighbours of ``track_id`` by every method: ``(other_id, score, method)``,
        best ``limit`` per method, ordered by method then score."""
        with self._connect() as con:
            rows = con.execute(
                "SELECT other_id, score, method FROM (SELECT other_id, score, method, ROW_NUMBER() OVER "
                "(PARTITION BY method ORDER BY score DESC, other_id) AS r FROM similar_tracks WHERE track_id = ?) "
                "WHERE r <= ? ORDER BY method, r",
                (track_id, int(limit)),
            ).fetchall()
        return [(r[0], float(r[1]), r[2]) for r in rows]

    def replace_topics(self, labels: Iterable[tuple[int, str]], track_topics: Iterable[tuple[str, int, float]]) -> int:
        """Replace the topic labels and every track's topic; return the number of tracks."""
        labels = [(int(t), str(label)) for t, label in labels]
        tracks = [(str(t), int(topic), float(w)) for t, topic, w in track_topics]
        with self._connect() as con:
            con.execute("DELETE FROM topic_labels")
            con.execute("DELETE FROM track_topics")
            con.executemany("INSERT INTO topic_labels VALUES (?, ?)", labels)
            con.executemany("INSERT OR REPLACE INTO track_topics VALUES (?, ?, ?)", tracks)
        return len(tracks)

    def topic_of(self, track_ids: Sequence[str]) -> dict[str, str]:
        """Topic label of each listed track that has one."""
        ids = [str(t) for t in track_ids]
        out: dict[str, str] = {}
        with self._connect() as con:
            for start in range(0, len(ids), 500):  # stay under SQLite's bound-parameter limit
                chunk = ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                out.update(con.execute(
                    "SELECT t.track_id, l.label FROM track_topics t JOIN topic_labels l ON l.topic = t.topic "
                    f"WHERE t.track_id IN ({marks})",  # only '?' marks are interpolated
                    chunk,
                ).fetchall())
        return out

    def table_counts(self, names: Sequence[str] = _TABLES) -> dict[str, int]:
        """Row counts per table (names outside the schema are ignored, never interpolated)."""
        with self._connect() as con:
            return {n: con.execute(f"SELECT COUNT(*) FROM {n}").fetchone()[0] for n in names if n in _TABLES}
