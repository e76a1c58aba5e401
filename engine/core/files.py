"""Small durable-file helpers: sha256 of a file, fsync of a directory, atomic text writes.

:func:`sha256_file` hashes in 1 MiB blocks (bundle manifests and packed archives);
:func:`fsync_dir` makes a rename or a new entry in a directory durable; :func:`atomic_write_text`
writes a temporary sibling, fsyncs it and moves it over the target with ``os.replace``, so a
reader sees the old text or the new, never half of one (events files, evaluation reports,
``best_params.json``). Standard library only.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)





def atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
