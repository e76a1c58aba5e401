"""SQLite app state: listening events, feedback, saved playlists and an item-item table.

One file (``Settings.store_path``) shared by the app and the engine. WAL mode, so the engine
can read while the app writes; every statement is parameterized. Each operation opens its own
short-lived connection: Streamlit runs every session in its own thread and ``sqlite3``
connections must not cross threads, and an open/close costs microseconds next to a page run.

Concurrency. Every write is one ``BEGIN IMMEDIATE`` transaction (the write lock is taken up
front, so a writer never fails half-way on a lock upgrade), and a connection waits up to
:attr:`Store.busy_timeout_s` for another writer before :class:`sqlite3.OperationalError`
("database is locked"); the app turns that into a sentence (``webapp.actions``). Opening a
fresh file from many processes at once is safe: WAL is switched on only when not yet on, and
the tables are created under one ``BEGIN IMMEDIATE``. Bulk writes by the batch jobs
(:meth:`Store.replace_similar`, :meth:`Store.replace_topics`) go in chunks of
:data:`CHUNK_ROWS` rows into a staging table that is swapped in by renames in one short
transaction, so an app write waits for at most one chunk and readers see the old table until
the rename, then the new one, never a mix.

Listeners are identified only by a ``user_key`` the app derives (never the Spotify account id
itself): a salted hash of the account id (:meth:`Store.user_key_for`: salt derived from
``APP_STATE_SECRET``, else kept in this database) or a random session id for demo sessions.
:meth:`Store.forget` deletes everything kept for one key.

Tables
------
``events``        event_id, user_key, track_id, kind, weight, ts (what was recommended/played/...)
``feedback``      user_key, target ('track' | 'artist'), target_id, value (+1 like, -1 dislike), ts
``playlists``     user_key, playlist_id, name, url, n_tracks, public, created_at, updated_at
``similar__<method>`` track_id, other_id, score: one table per method (``python -m engine similarity``:
                  minhash, word2vec, ...), so a method is replaced by swapping one table
``similar_tracks`` a view: track_id, other_id, score, method over every ``similar__<method>`` table
``forgotten``     user_key, ts (tombstones of "Forget me": the engine drops these listeners' rows)
``topic_labels``   topic, label (LDA topics over genres; label = top terms)
``track_topics``   track_id, topic, weight (each track's dominant topic)

Schema version 2 replaced version 1's single ``similar_tracks`` table by the per-method tables
and the view; opening a version-1 file moves its rows over once.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import logging
import re
import secrets
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from engine.core.locking import FileLock
from engine.state.events import KIND_WEIGHTS

logger = logging.getLogger(__name__)

#: Bump when a table changes; :meth:`Store.__init__` creates missing tables (and migrates).
STORE_SCHEMA_VERSION = 2
EVENT_KINDS: tuple[str, ...] = tuple(KIND_WEIGHTS)
_TABLES: tuple[str, ...] = ("events", "feedback", "playlists", "similar_tracks", "topic_labels", "track_topics")
FEEDBACK_TARGETS: tuple[str, ...] = ("track", "artist")
#: Rows per transaction of a bulk write. Sorted rows write at ~4 s per million on the 2-core
#: development machine (bench/store_writes.py), so one chunk holds the write lock ~0.2 s.
CHUNK_ROWS = 50_000
#: Pause between chunks. SQLite's busy handler, which a waiting app write runs, retries at most
#: every 100 ms; a shorter gap could be missed every time and the app write would wait for the
#: whole bulk write after all.
CHUNK_PAUSE_S = 0.12
#: Method names become table names (``similar__<method>``), so they are restricted to these.
METHOD_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
SIMILAR_VIEW = "similar_tracks"
_LIVE, _NEW, _OLD = "similar__", "similar_new__", "similar_old__"

_SCHEMA: tuple[str, ...] = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS events (
    event_id TEXT PRIMARY KEY,
    user_key TEXT NOT NULL,
    track_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    weight REAL NOT NULL,
    ts REAL NOT NULL
)""",
    "CREATE INDEX IF NOT EXISTS events_user ON events (user_key)",
    """CREATE TABLE IF NOT EXISTS feedback (
    user_key TEXT NOT NULL,
    target TEXT NOT NULL CHECK (target IN ('track', 'artist')),
    target_id TEXT NOT NULL,
    value INTEGER NOT NULL CHECK (value IN (-1, 1)),
    ts REAL NOT NULL,
    PRIMARY KEY (user_key, target, target_id)
)""",
    """CREATE TABLE IF NOT EXISTS playlists (
    user_key TEXT NOT NULL,
    playlist_id TEXT NOT NULL,
    name TEXT NOT NULL,
    url TEXT NOT NULL,
    n_tracks INTEGER NOT NULL,
    public INTEGER NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (user_key, playlist_id)
)""",
    "CREATE TABLE IF NOT EXISTS forgotten (user_key TEXT PRIMARY KEY, ts REAL NOT NULL)",
    "CREATE TABLE IF NOT EXISTS topic_labels (topic INTEGER PRIMARY KEY, label TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS track_topics (
    track_id TEXT PRIMARY KEY,
    topic INTEGER NOT NULL,
    weight REAL NOT NULL
)""",
)
#: One method's neighbour table. WITHOUT ROWID: the rows are stored in primary-key order, so a
#: track's neighbours are one short range (no second index to keep up during a bulk write).
_SIMILAR_DDL = (
    'CREATE TABLE "{name}" (track_id TEXT NOT NULL, other_id TEXT NOT NULL, score REAL NOT NULL, '
    "PRIMARY KEY (track_id, other_id)) WITHOUT ROWID"
)
_TOPICS_DDL = 'CREATE TABLE "{name}" (track_id TEXT PRIMARY KEY, topic INTEGER NOT NULL, weight REAL NOT NULL)'


def similar_table(method: str) -> str:
    """The table holding ``method``'s neighbours; ValueError for a name that cannot be one."""
    if not METHOD_PATTERN.match(method):
        raise ValueError(f"similarity method {method!r} must match {METHOD_PATTERN.pattern}")
    return _LIVE + method


def _chunks(rows: Iterable[tuple], size: int) -> Iterator[list[tuple]]:
    # itertools.batched is Python 3.12+; the project supports 3.11.
    it = iter(rows)
    while chunk := list(itertools.islice(it, size)):
        yield chunk


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

    #: Seconds a statement waits for another connection's write lock before
    #: ``sqlite3.OperationalError: database is locked`` (SQLite's busy timeout).
    busy_timeout_s: float = 10.0

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = self._open()
        try:
            _ensure_wal(con, self.busy_timeout_s)
            if _schema_version(con) == STORE_SCHEMA_VERSION:
                return  # the usual case: nothing to create, so no write lock to wait for
            with self._transaction(con):
                for statement in _SCHEMA:
                    con.execute(statement)
                _migrate_v1_similar(con)
                if not con.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (SIMILAR_VIEW,)).fetchone():
                    _create_similar_view(con)
                con.execute(
                    "INSERT INTO meta (key, value) VALUES ('schema_version', ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (str(STORE_SCHEMA_VERSION),),
                )
                # A random per-installation salt, used when APP_STATE_SECRET is unset (user_key_for):
                # the stored keys cannot be reversed to account ids by anyone without this file.
                con.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('salt', ?)", (secrets.token_hex(16),))
        finally:
            con.close()

    def _open(self) -> sqlite3.Connection:
        # isolation_level=None: no implicit transactions; writes say BEGIN IMMEDIATE themselves.
        con = sqlite3.connect(self.path, timeout=self.busy_timeout_s, isolation_level=None)
        con.execute("PRAGMA foreign_keys=ON")
        return con

    @staticmethod
    @contextmanager
    def _transaction(con: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` … ``COMMIT`` (``ROLLBACK`` on error): the write lock up front."""
        con.execute("BEGIN IMMEDIATE")
        try:
            yield con
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")

    @contextmanager
    def _connect(self, *, write: bool = False) -> Iterator[sqlite3.Connection]:
        """A short-lived connection; with ``write`` its statements form one write transaction."""
        con = self._open()
        try:
            if write:
                with self._transaction(con):
                    yield con
            else:
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
        with self._connect(write=True) as con:
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
        with self._connect(write=True) as con:
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
        with self._connect(write=True) as con:
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
        with self._connect(write=True) as con:
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
        """Insert or replace ``(track_id, other_id, score)`` rows computed by ``method`` (one
        transaction: for small additions; a whole method's rows go through :meth:`replace_similar`)."""
        table = similar_table(method)
        data = [(a, b, float(s)) for a, b, s in rows]
        with self._connect(write=True) as con:
            if not _table_exists(con, table):
                con.execute(_SIMILAR_DDL.format(name=table))
                _create_similar_view(con)
            con.executemany(f'INSERT OR REPLACE INTO "{table}" VALUES (?, ?, ?)', data)  # validated name
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

    def replace_similar(
        self,
        rows: Iterable[tuple[str, str, float]],
        *,
        method: str,
        chunk_rows: int = CHUNK_ROWS,
        pause_s: float = CHUNK_PAUSE_S,
    ) -> int:
        """Replace every row of ``method`` with ``rows``; return how many rows were given.

        The rows go in chunks of ``chunk_rows`` (one transaction each, ``pause_s`` apart) into
        a staging table, which then replaces the method's table by renames in one short
        transaction: app writes wait for one chunk at most, and readers see the old rows until
        the rename, then the new ones, never a mix. ``rows`` is read lazily; sorted by
        ``(track_id, other_id)`` it writes about 4x faster. A repeated ``(track_id, other_id)``
        keeps its last score. One writer per method at a time (a lock file beside the database;
        a second raises :class:`engine.core.locking.LockHeld`).
        """
        table = similar_table(method)
        staging, old = _NEW + method, _OLD + method
        data = ((a, b, float(s)) for a, b, s in rows)

        def swap(con: sqlite3.Connection) -> None:
            con.execute(f"DROP VIEW IF EXISTS {SIMILAR_VIEW}")  # renames would rewrite it
            if _table_exists(con, table):
                con.execute(f'ALTER TABLE "{table}" RENAME TO "{old}"')
            con.execute(f'ALTER TABLE "{staging}" RENAME TO "{table}"')
            _create_similar_view(con)

        return self._swap_in(
            staging, old, ddl=_SIMILAR_DDL.format(name=staging), insert=f'INSERT OR REPLACE INTO "{staging}" VALUES (?, ?, ?)',
            rows=data, swap=swap, chunk_rows=chunk_rows, pause_s=pause_s,
        )

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

    def similar_methods(self) -> list[str]:
        """The methods with a stored neighbour table, by name."""
        with self._connect() as con:
            return _similar_methods(con)

    def replace_topics(
        self,
        labels: Iterable[tuple[int, str]],
        track_topics: Iterable[tuple[str, int, float]],
        *,
        chunk_rows: int = CHUNK_ROWS,
        pause_s: float = CHUNK_PAUSE_S,
    ) -> int:
        """Replace the topic labels and every track's topic; return the number of tracks.

        As :meth:`replace_similar`: the tracks' topics go in chunks into a staging table; the
        rename and the (few) labels are one short transaction.
        """
        labels = [(int(t), str(label)) for t, label in labels]
        data = ((str(t), int(topic), float(w)) for t, topic, w in track_topics)
        staging, old = "track_topics_new", "track_topics_old"

        def swap(con: sqlite3.Connection) -> None:
            con.execute(f'ALTER TABLE track_topics RENAME TO "{old}"')
            con.execute(f'ALTER TABLE "{staging}" RENAME TO track_topics')
            con.execute("DELETE FROM topic_labels")
            con.executemany("INSERT INTO topic_labels VALUES (?, ?)", labels)

        return self._swap_in(
            staging, old, ddl=_TOPICS_DDL.format(name=staging), insert=f'INSERT OR REPLACE INTO "{staging}" VALUES (?, ?, ?)',
            rows=data, swap=swap, chunk_rows=chunk_rows, pause_s=pause_s,
        )

    def _swap_in(
        self,
        staging: str,
        old: str,
        *,
        ddl: str,
        insert: str,
        rows: Iterable[tuple],
        swap: Callable[[sqlite3.Connection], None],
        chunk_rows: int,
        pause_s: float,
    ) -> int:
        """Fill ``staging`` chunk by chunk, run ``swap`` (renames) in one transaction, then drop
        ``old`` chunk by chunk. Leftovers of a crashed run are dropped first."""
        if chunk_rows < 1:
            raise ValueError(f"chunk_rows must be at least 1, not {chunk_rows}")
        lock = FileLock(self.path.with_name(f".{self.path.name}.{staging}.lock"), purpose=f"write {staging}")
        with lock, self._connect() as con:
            for leftover in (staging, old):
                self._drop_in_chunks(con, leftover, chunk_rows, pause_s)
            with self._transaction(con):
                con.execute(ddl)
            n = 0
            for chunk in _chunks(rows, chunk_rows):
                if n:
                    time.sleep(pause_s)  # let waiting app writes in (see CHUNK_PAUSE_S)
                with self._transaction(con):
                    con.executemany(insert, chunk)
                n += len(chunk)
            with self._transaction(con):
                swap(con)
            self._drop_in_chunks(con, old, chunk_rows, pause_s)
        logger.info("store: %s swapped in (%d rows)", staging, n)
        return n

    def _drop_in_chunks(self, con: sqlite3.Connection, table: str, chunk_rows: int, pause_s: float) -> None:
        """Delete ``table``'s rows a chunk at a time (ranges of ``track_id``), then drop it: a
        plain DROP of a big table holds the write lock for seconds (~0.9 s per million rows)."""
        while _table_exists(con, table):
            with self._transaction(con):
                bound = con.execute(
                    f'SELECT track_id FROM "{table}" ORDER BY track_id LIMIT 1 OFFSET ?', (chunk_rows,)
                ).fetchone()
                if bound is None:
                    con.execute(f'DROP TABLE "{table}"')
                    return
                con.execute(f'DELETE FROM "{table}" WHERE track_id <= ?', bound)
            time.sleep(pause_s)  # as between the chunks of a write

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
        """Row counts per table or view (names outside the schema are ignored, never interpolated)."""
        with self._connect() as con:
            return {n: con.execute(f"SELECT COUNT(*) FROM {n}").fetchone()[0] for n in names if n in _TABLES}


# -- schema helpers (names interpolated below are fixed or validated by METHOD_PATTERN) ------------


def _ensure_wal(con: sqlite3.Connection, timeout_s: float) -> None:
    """Switch the file to WAL unless it already is (WAL persists in the file: readers never block
    the app's writes). The switch needs every other connection gone, and SQLite reports a busy
    file at once here instead of running the busy handler, so it is retried until ``timeout_s``
    (a fresh file opened by several processes at once: one switches, the others see WAL)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if con.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal":
                return
            if con.execute("PRAGMA journal_mode=WAL").fetchone()[0].lower() == "wal":
                return
            error = "the journal mode stayed as it was"
        except sqlite3.OperationalError as exc:
            error = str(exc)
        if time.monotonic() >= deadline:
            raise sqlite3.OperationalError(f"cannot switch the store to WAL mode: {error}")
        time.sleep(0.01)


def _schema_version(con: sqlite3.Connection) -> int | None:
    """The file's schema version (None for a fresh file)."""
    try:
        row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.OperationalError:  # no meta table yet
        return None
    return int(row[0]) if row and str(row[0]).isdigit() else None


def _table_exists(con: sqlite3.Connection, name: str) -> bool:
    return con.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone() is not None


def _similar_methods(con: sqlite3.Connection) -> list[str]:
    names = con.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name GLOB 'similar__*'").fetchall()
    return sorted(m for (name,) in names if METHOD_PATTERN.match(m := name[len(_LIVE):]))


def _create_similar_view(con: sqlite3.Connection) -> None:
    """(Re)create the ``similar_tracks`` view over every method's table (inside a write transaction)."""
    parts = [
        f"SELECT track_id, other_id, score, '{m}' AS method FROM \"{_LIVE}{m}\"" for m in _similar_methods(con)
    ] or ["SELECT '' AS track_id, '' AS other_id, 0.0 AS score, '' AS method WHERE 0"]
    con.execute(f"DROP VIEW IF EXISTS {SIMILAR_VIEW}")
    con.execute(f"CREATE VIEW {SIMILAR_VIEW} AS " + " UNION ALL ".join(parts))


def _migrate_v1_similar(con: sqlite3.Connection) -> None:
    """Schema 1 kept every method in one ``similar_tracks`` table: move its rows to one table per
    method (inside the schema transaction; once). Rows of a method whose name cannot be a table
    name are dropped, with a warning."""
    if not _table_exists(con, SIMILAR_VIEW):
        return
    methods = [m for (m,) in con.execute("SELECT DISTINCT method FROM similar_tracks")]
    for method in methods:
        if not METHOD_PATTERN.match(method):
            logger.warning("store: dropped the neighbours of method %r (not a valid method name)", method)
            continue
        table = similar_table(method)
        if not _table_exists(con, table):
            con.execute(_SIMILAR_DDL.format(name=table))
        con.execute(
            f'INSERT OR REPLACE INTO "{table}" SELECT track_id, other_id, score FROM similar_tracks WHERE method = ?',
            (method,),
        )
    con.execute("DROP TABLE similar_tracks")
    _create_similar_view(con)
