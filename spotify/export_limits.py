"""How much one data-export import may cost: bytes, files, rows, JSON values, nesting, tracks.

The upload needs no sign-in, so every import is bounded whatever it is sent. Each limit is a
field of :class:`ExportLimits` (``LIMITS`` holds the defaults); an import past one of them stops
with a sentence for the listener instead of using more memory or CPU. The defaults are several
times what a real export needs (measured on real exports: the account-data zip is a few MB,
the extended streaming history zip 10–50 MB, each history file inside at most ~15 MB and
~16,000 plays). With them one import stays under 256 MiB of memory, and its CPU time is bounded
by ``max_json_values`` (~5 M values a second on one core).
"""

from __future__ import annotations

from dataclasses import dataclass

MiB = 1024 * 1024


@dataclass(frozen=True)
class ExportLimits:
    """The bounds of one import (see the module docstring for how they were chosen)."""

    max_upload_bytes: int = 64 * MiB
    """Largest file given to the import as it is sent (a zip or a JSON file). The same number,
    in MB, is ``server.maxUploadSize`` in ``.streamlit/config.toml``."""

    max_files: int = 1_000
    """Files in one import: uploaded files plus the members of every zip (a real export has a
    few dozen). A zip with more is refused before its directory is read."""

    max_member_bytes: int = 32 * MiB
    """Unpacked size of one history file (real ones are at most ~15 MB)."""

    max_unpacked_bytes: int = 512 * MiB
    """Unpacked bytes of all files of one import together; reading stops there."""

    max_rows: int = 500_000
    """JSON rows (plays, good or bad) read from all files: 14 years at 100 plays a day."""

    max_json_values: int = 30_000_000
    """JSON tokens (keys, values, brackets) parsed in one import; a real play is ~50. This is
    the bound on CPU time."""

    max_depth: int = 16
    """Nesting of JSON arrays and objects (a real history file nests 2 deep)."""

    max_tracks: int = 100_000
    """Distinct tracks (artist, title, album, id) kept from one import."""

    max_name_chars: int = 16_000_000
    """Characters of artist, title and album names over the distinct tracks kept (a real
    track has ~60)."""


LIMITS = ExportLimits()
"""The limits every import uses unless given others."""


def size_text(n_bytes: int) -> str:
    """``n_bytes`` for a sentence: ``64 MiB``, ``512 KiB``, ``900 bytes``."""
    if n_bytes >= MiB and n_bytes % MiB == 0:
        return f"{n_bytes // MiB:,} MiB"
    if n_bytes >= 1024 and n_bytes % 1024 == 0:
        return f"{n_bytes // 1024:,} KiB"
    return f"{n_bytes:,} bytes"


class FileRefused(Exception):
    """One file of an import cannot be used; ``str(exc)`` says why (the other files go on)."""


class ImportStopped(Exception):
    """A limit of the whole import was reached: reading stops, what was read is kept."""


class Budget:
    """What one import has spent of its :class:`ExportLimits`; every file draws on it."""

    def __init__(self, limits: ExportLimits) -> None:
        self.limits = limits
        self.files = 0
        self.unpacked = 0
        self.rows = 0
        self.values = 0

    def take_files(self, n: int, what: str) -> None:
        """Count ``n`` more files; FileRefused (naming ``what``) past ``max_files``."""
        if self.files + n > self.limits.max_files:
            raise FileRefused(f"{what} more than the {self.limits.max_files:,} files one import may have "
                              f"(a Spotify export has a few dozen)")
        self.files += n

    def bytes_left(self) -> int:
        """Unpacked bytes the import may still read."""
        return max(0, self.limits.max_unpacked_bytes - self.unpacked)

    def bytes_exhausted(self) -> ImportStopped:
        """The stop for ``max_unpacked_bytes`` (the reader raises it once it has read the bytes left)."""
        return ImportStopped(f"the export unpacks to more than {size_text(self.limits.max_unpacked_bytes)}, "
                             f"the most one import reads")

    def take_values(self, n: int) -> None:
        """Count ``n`` more JSON tokens; ImportStopped past ``max_json_values``."""
        self.values += n
        if self.values > self.limits.max_json_values:
            raise ImportStopped(f"the export holds more than {self.limits.max_json_values:,} JSON values, "
                                f"the most one import reads")

    def take_row(self) -> None:
        """Count one more JSON row; ImportStopped past ``max_rows``."""
        self.rows += 1
        if self.rows > self.limits.max_rows:
            raise ImportStopped(f"the export holds more than {self.limits.max_rows:,} entries (plays), "
                                f"the most one import reads")
