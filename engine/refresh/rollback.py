"""Rolling the serving model back: ``models/CURRENT`` pointed at a kept version, and logged.

:func:`rollback` (``python -m engine rollback [VERSION]``)::

    lock models/.refresh.lock (the refresh's: a round in progress would publish over the
                               rollback, and its pruning could delete the target meanwhile)
    -> the target: VERSION, or the version published before the serving one
    -> verify it against its manifest (every file's sha256): a corrupt or unknown one is refused
    -> rewrite CURRENT atomically (engine.core.files.atomic_write_text, then the directory fsynced)
    -> append a "rolled back" record to models/refresh_log.jsonl, which the Model page lists
       with the refresh rounds

Only versions still kept in ``models/`` (``KEEP_VERSIONS`` of them) can be served again. The
next refresh judges new listening against the rolled-back model (its watermark), so a
rollback is also how to make a refresh start again from an older model.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from engine.bundle.layout import CURRENT_FILE, VERSION_NAME, current_version, list_versions, version_dir
from engine.bundle.load import verify_bundle_dir
from engine.core.errors import BundleError
from engine.core.files import atomic_write_text, fsync_dir
from engine.core.locking import FileLock
from engine.refresh.round import LOCK_FILE
from engine.state.refresh_log import ROLLED_BACK, RefreshRecord, append_log, now_iso

logger = logging.getLogger(__name__)


def rollback_target(models_dir: Path, version: str | None = None) -> tuple[str | None, str]:
    """``(serving version, version to serve)``; BundleError (one line) when there is none.

    ``version`` must name a kept version folder; without it the target is the newest version
    older than the serving one (by the manifests' ``created_at``).
    """
    models_dir = Path(models_dir)
    current = current_version(models_dir)
    versions = list_versions(models_dir)
    kept = ", ".join(versions) or "none"
    if version is None:
        if current not in versions:
            raise BundleError(f"{models_dir / CURRENT_FILE}: serves {current or 'nothing'}, so there is no previous "
                              f"version to roll back to; name one (kept: {kept})")
        older = versions[: versions.index(current)]
        if not older:
            raise BundleError(f"{current} is the oldest kept version in {models_dir}: nothing to roll back to")
        return current, older[-1]
    if not VERSION_NAME.match(version) or version == "demo":
        raise BundleError(f"{version[:80]!r} is not a version name (kept: {kept})")
    path = version_dir(models_dir, version)  # the loader's own check: no link out of models/
    if not path.is_dir():
        raise BundleError(f"{path}: no such version (kept: {kept})")
    if version == current:
        raise BundleError(f"{version} is already the serving version")
    return current, version


def rollback(models_dir: Path, version: str | None = None, *, note: str = "") -> RefreshRecord:
    """Serve ``version`` (default: the previous one) again; return the logged record.

    Raises :class:`BundleError` for an unknown, corrupt or already serving version, and
    :class:`engine.core.locking.LockHeld` while a refresh runs; CURRENT is then unchanged
    and nothing is logged.
    """
    models_dir = Path(models_dir)
    started, record = time.perf_counter(), RefreshRecord(started_at=now_iso(), decision=ROLLED_BACK)
    with FileLock(models_dir / LOCK_FILE, purpose="rollback", heartbeat_s=0):
        current, target = rollback_target(models_dir, version)
        try:
            verify_bundle_dir(models_dir / target)
        except BundleError as exc:
            raise BundleError(f"refusing to serve {target}: {exc}") from None
        atomic_write_text(models_dir / CURRENT_FILE, target + "\n")
        fsync_dir(models_dir)
        record.current_version, record.serving_version = current, target
        record.reason = f"rolled back from {current or 'nothing'} to {target}" + (f": {note}" if note else "")
        record.finished_at, record.duration_s = now_iso(), round(time.perf_counter() - started, 3)
        append_log(models_dir, record)
    logger.info("[rollback] %s", record.reason)
    return record
