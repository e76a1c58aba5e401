"""The refresh log, ``models/refresh_log.jsonl``: one JSON line per refresh round.

Written by ``engine.refresh.round`` and read by the app's Model page (:func:`read_log`), so this module
imports only the standard library. A record says when the round ran and how long it took, what
it decided (``published`` / ``kept`` / ``skipped`` / ``failed``, or ``rolled back`` for
``python -m engine rollback``: ``engine.refresh.rollback``) and why, which versions were
serving before and after, the data counts (rows, new rows, held-out pairs, watermarks), the gate
metrics of both models, the parameters, the ingest counts and lock events. Example::

    {"decision": "kept", "reason": "kept 20260301T...: candidate worse than current beyond 5%: ndcg@10 0.0712 vs current 0.1204",
     "metrics": {"candidate": {"ndcg@10": 0.0712, ...}, "current": {"ndcg@10": 0.1204, ...}},
     "data": {"n_rows": 61234, "n_new_rows": 10000, "n_test_users": 412, ...}, "duration_s": 95.2, ...}
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

LOG_FILE = "refresh_log.jsonl"
ROLLED_BACK = "rolled back"
DECISIONS = ("published", "kept", "skipped", "failed", ROLLED_BACK)


def now_iso() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class RefreshRecord:
    """One line of ``refresh_log.jsonl``."""

    started_at: str
    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)
    decision: str = "failed"  # published | kept | skipped | failed | rolled back
    reason: str = ""
    current_version: str | None = None
    published_version: str | None = None
    serving_version: str | None = None
    finished_at: str | None = None
    duration_s: float = 0.0
    data: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    gate: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    ingest: dict[str, Any] | None = None
    lock: dict[str, Any] = field(default_factory=dict)
    timings_s: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)

    def summary(self) -> str:
        """One line for people."""
        return f"refresh {self.decision}: {self.reason} ({self.duration_s:.1f}s)"


def append_log(models_dir: Path, record: RefreshRecord) -> Path:
    """Append ``record`` as one JSON line (a single ``O_APPEND`` write, fsynced)."""
    path = Path(models_dir) / LOG_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(record.to_dict(), sort_keys=True, default=str) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)
    return path


def read_log(models_dir: Path, *, limit: int | None = None) -> list[dict[str, Any]]:
    """The refresh records, oldest first (the last ``limit``); unreadable lines are skipped."""
    path = Path(models_dir) / LOG_FILE
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    out = []
    for line in lines:
        try:
            out.append(json.loads(line))
        except ValueError:
            continue  # a line cut short by a crash or a full disk
    return out[-limit:] if limit else out
