"""An exclusive lock file that survives crashes: one refresher (or one stream writer) at a time.

The lock is a small JSON file (``pid``, ``host``, the process start time, a random token)
whose modification time is a heartbeat, touched every ``heartbeat_s`` seconds while the lock
is held. A lock left behind by a crashed holder is *stale* and is taken over:

- same host: the recorded process is gone, or its pid now belongs to another process (the
  start time read from ``/proc/<pid>/stat`` differs: pids are reused);
- another host (a models directory on a shared file system): no heartbeat for
  ``stale_after_s`` seconds.

Check-and-take is serialized by ``fcntl.flock`` on a sibling ``.guard`` file, held only for
those few milliseconds, so two processes that find the same stale lock cannot both take it.
:func:`flock_exclusive` is that short lock on its own, for other read-modify-write steps that
must not interleave (``engine.state.events``: "Forget me" and compaction of the events files).
(``flock`` alone would release a dead holder's lock by itself, but it says nothing about who
held it and is unreliable on some network file systems; the heartbeat file covers both.)
POSIX only, like the rest of the engine's process handling.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from engine.core.errors import EngineError

#: A holder on another host is presumed dead after this long without a heartbeat.
DEFAULT_STALE_AFTER_S = 900.0
DEFAULT_HEARTBEAT_S = 30.0


@dataclass(frozen=True)
class LockInfo:
    """Who holds (or held) a lock."""

    pid: int
    host: str
    token: str
    started_at: str
    purpose: str = ""
    pid_start: str | None = None

    def describe(self) -> str:
        """``pid 123 on host h since 2026-01-31T12:00:00+00:00 (refresh)``."""
        what = f" ({self.purpose})" if self.purpose else ""
        return f"pid {self.pid} on host {self.host} since {self.started_at}{what}"


class LockHeld(EngineError):
    """The lock belongs to a live process; ``holder`` says which."""

    def __init__(self, path: Path, holder: LockInfo | None) -> None:
        self.path, self.holder = path, holder
        who = holder.describe() if holder else "another process"
        super().__init__(f"{path} is held by {who}")


def process_start(pid: int) -> str | None:
    """The start time of process ``pid`` in clock ticks since boot (Linux), else None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and ')': split after its last ')'.
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else None


def pid_alive(pid: int, start: str | None) -> bool:
    """True when ``pid`` runs and (when known) started at ``start``."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    if start is None:
        return True
    now = process_start(pid)
    return now is None or now == start


def read_lock(path: Path) -> LockInfo | None:
    """The lock's holder, or None when there is no lock (or it is unreadable)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return LockInfo(**{k: data[k] for k in LockInfo.__dataclass_fields__ if k in data})
    except (OSError, ValueError, TypeError):
        return None


@contextmanager
def flock_exclusive(path: Path, *, wait: bool = True) -> Iterator[None]:
    """Hold an exclusive ``fcntl.flock`` on ``path`` (created if missing) for the ``with`` block.

    Waits for another holder, or with ``wait=False`` raises :class:`LockHeld` at once. The
    kernel releases the lock when the holder's file is closed, a crash included, so it never
    goes stale; it is meant for short critical sections on one host.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockHeld(Path(path), None) from None
        yield
    finally:
        os.close(fd)  # closing releases the flock


class FileLock:
    """An exclusive lock at ``path``; use as a context manager or ``acquire()``/``release()``.

    Parameters
    ----------
    path : Path
        The lock file (its directory must be writable).
    purpose : str
        Shown to whoever finds the lock held.
    stale_after_s : float
        Heartbeat age after which a holder on another host counts as dead.
    heartbeat_s : float
        How often the holder touches the file; 0 disables the heartbeat thread.

    Examples
    --------
    >>> with FileLock(models_dir / ".refresh.lock", purpose="refresh") as lock:
    ...     lock.took_over  # the crashed holder's LockInfo, or None
    """

    def __init__(
        self,
        path: Path,
        *,
        purpose: str = "",
        stale_after_s: float = DEFAULT_STALE_AFTER_S,
        heartbeat_s: float = DEFAULT_HEARTBEAT_S,
    ) -> None:
        self.path = Path(path)
        self.purpose = purpose
        self.stale_after_s = float(stale_after_s)
        self.heartbeat_s = float(heartbeat_s)
        self.info: LockInfo | None = None
        self.took_over: LockInfo | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- acquire / release -------------------------------------------------------------------

    def acquire(self) -> "FileLock":
        """Take the lock or raise :class:`LockHeld`; a stale lock is taken over (``took_over``)."""
        if self.info is not None:
            raise RuntimeError(f"{self.path} is already held by this FileLock")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._guard():
            holder = read_lock(self.path)
            if self.path.exists() and not self._is_stale(holder):
                raise LockHeld(self.path, holder)
            # Whatever lock file is still here belonged to a dead holder: it is replaced.
            pid = os.getpid()
            info = LockInfo(
                pid=pid,
                host=socket.gethostname(),
                token=secrets.token_hex(8),
                started_at=datetime.now(UTC).isoformat(timespec="seconds"),
                purpose=self.purpose,
                pid_start=process_start(pid),
            )
            self._write(info)
        self.info = info
        self.took_over = holder
        if self.heartbeat_s > 0:
            self._stop.clear()
            self._thread = threading.Thread(target=self._beat, name=f"lock-heartbeat:{self.path.name}", daemon=True)
            self._thread.start()
        return self

    def release(self) -> None:
        """Give the lock up (no-op when not held). Leaves a lock another process took over."""
        if self.info is None:
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        with self._guard():
            current = read_lock(self.path)
            if current is not None and current.token == self.info.token:
                self.path.unlink(missing_ok=True)
        self.info = None

    def __enter__(self) -> "FileLock":
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

    # -- internals --------------------------------------------------------------------------

    def _is_stale(self, holder: LockInfo | None) -> bool:
        try:
            age = time.time() - self.path.stat().st_mtime
        except FileNotFoundError:
            return True
        if holder is None:
            # Written atomically under the guard, so an unreadable lock is damage, not a
            # writer mid-way; still give a just-created file a moment.
            return age > 5.0
        if holder.host == socket.gethostname():
            return not pid_alive(holder.pid, holder.pid_start)
        return age > self.stale_after_s

    def _write(self, info: LockInfo) -> None:
        tmp = self.path.with_name(f".{self.path.name}.{info.token}.tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(asdict(info), fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    @contextmanager
    def _guard(self) -> Iterator[None]:
        with flock_exclusive(self.path.with_name(self.path.name + ".guard")):
            yield

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            try:
                os.utime(self.path)
            except OSError:
                pass  # the directory vanished (tests) or a taker replaced it: nothing to touch
