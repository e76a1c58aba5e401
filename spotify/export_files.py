"""The files of a data-export upload: zips, JSON files, folders, opened within the import's budget.

:func:`candidates` turns what the listener gave (bytes, a path, uploaded files) into
:class:`Candidate` files to parse, each opened as a :class:`BoundedStream` that counts the
bytes it unpacks against :class:`~spotify.export_limits.Budget`. A zip is checked before
:mod:`zipfile` reads its directory (member count), and every member's compression and
encryption before it is opened, so a hostile zip costs a sentence, not memory.
"""

from __future__ import annotations

import codecs
import io
import lzma
import os
import re
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import IO, Any, Union

from spotify.errors import ExportError
from spotify.export_limits import Budget, FileRefused, size_text

#: Names Spotify gives streaming history files (a file named so is read row by row and its
#: problems reported; other JSON files are recognised by their rows).
HISTORY_NAME = re.compile(r"^(StreamingHistory(_music)?_?\d+|Streaming_History_Audio_.+|endsong_\d+)\.json$",
                          re.IGNORECASE)
#: Names Spotify gives the histories that are not music (podcasts, video): never read.
NOT_MUSIC_NAME = re.compile(r"^(StreamingHistory_podcast_|Streaming_History_Video_)", re.IGNORECASE)
#: Bytes asked of a file per read. ijson copies a string that spans reads, so a larger read
#: keeps a long string cheap; each read's JSON events are held at once (~70 bytes each).
CHUNK_BYTES = 256 * 1024
#: zipfile's compression methods that Python can unpack (stored, deflate, bzip2, LZMA).
UNPACKABLE = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
_METHOD_NAMES = {9: "Deflate64", 93: "Zstandard", 95: "XZ", 98: "PPMd", 99: "AES encryption"}
#: What a damaged member raises while it is unpacked.
_DAMAGED = (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, OSError, ValueError)
_CENTRAL_DIRECTORY_ENTRY = b"PK\x01\x02"
_ZIP_MAGIC = b"PK\x03\x04"

Source = Union[bytes, str, "os.PathLike[str]", Iterable[Any]]


@dataclass(frozen=True)
class FileProblem:
    """A file of the export that could not be (fully) used."""

    name: str
    message: str

    def __str__(self) -> str:
        return f"{self.name}: {self.message}"


@dataclass(frozen=True)
class Candidate:
    """One JSON file that may hold plays.

    ``named``: its name is one Spotify gives history files (read row by row, every problem
    reported). ``given``: the listener gave this file itself (not found in a zip or folder),
    so it is reported when it is not a history. ``container``: the zip or folder it is in.
    """

    name: str
    named: bool
    given: bool
    container: str | None
    open: Callable[[], IO[bytes]]


class BoundedStream:
    """A binary stream over one file that refuses to unpack more than the budget allows.

    Raises (from :meth:`read`) FileRefused past ``max_member_bytes`` or when the file turns
    out damaged or is not UTF-8, ImportStopped past the import's ``max_unpacked_bytes``. A
    UTF-8 byte order mark at the start is dropped (ijson does not take one).
    """

    def __init__(self, raw: IO[bytes], budget: Budget) -> None:
        self._raw = raw
        self._budget = budget
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._over: Exception | None = None  # raised by the next read: a limit was reached
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        """Up to ``n`` bytes (``CHUNK_BYTES`` when ``n`` is negative).

        The bytes up to a limit are returned; the read after them raises.
        """
        if n == 0:
            return b""
        if self._over is not None:
            raise self._over
        try:
            chunk = self._raw.read(CHUNK_BYTES if n < 0 else min(n, CHUNK_BYTES))
        except _DAMAGED as exc:
            raise FileRefused(damaged_sentence(exc)) from None
        limits = self._budget.limits
        if self.size + len(chunk) > limits.max_member_bytes:
            self._over = FileRefused(f"unpacks to more than {size_text(limits.max_member_bytes)}, more than a "
                                     f"streaming history file holds (Spotify's are at most ~15 MB)")
            chunk = chunk[:limits.max_member_bytes - self.size]
        room = self._budget.bytes_left()
        if len(chunk) > room:
            self._over = self._budget.bytes_exhausted()
            chunk = chunk[:room]
        if not chunk and self._over is not None:
            raise self._over
        start = self.size
        self.size += len(chunk)
        self._budget.unpacked += len(chunk)
        try:
            self._decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as exc:
            raise FileRefused(f"not UTF-8 text (byte {start + exc.start:,})") from None
        if start == 0 and chunk.startswith(codecs.BOM_UTF8):
            chunk = chunk[len(codecs.BOM_UTF8):]
        return chunk

    def close(self) -> None:
        """Close the underlying file."""
        self._raw.close()


def shown_name(name: str, limit: int = 160) -> str:
    """A file name fit for a one-line message: control and invisible characters become ``?``,
    and a name longer than ``limit`` keeps its end (zip member names may be anything)."""
    text = "".join("?" if unicodedata.category(c)[0] == "C" else c for c in name)
    return text if len(text) <= limit else "…" + text[-(limit - 1):]


def damaged_sentence(exc: BaseException) -> str:
    """What to say of a zip member that fails while it is unpacked (bad CRC, corrupt deflate...)."""
    if isinstance(exc, zipfile.BadZipFile) and "CRC" in str(exc):
        return "is damaged (its checksum does not match); download the export again"
    return "is damaged (its compressed data cannot be unpacked); download the export again"


def _member_problem(info: zipfile.ZipInfo) -> str | None:
    """Why a zip member cannot be opened at all, or None."""
    if info.flag_bits & 0x1:
        return "is encrypted (password-protected); upload the export as Spotify sent it"
    if info.compress_type not in UNPACKABLE:
        method = _METHOD_NAMES.get(info.compress_type, f"method {info.compress_type}")
        return f"is compressed with {method}, which this app cannot unpack; zip it again with ordinary (deflate) compression"
    return None


def _zip_candidates(name: str, data: bytes, budget: Budget, problems: list[FileProblem],
                    containers: dict[str, bool]) -> Iterator[Candidate]:
    # Every entry of the zip's central directory starts with this signature, so counting it
    # bounds the ZipInfo objects zipfile would build before it builds any.
    name = shown_name(name)
    try:
        budget.take_files(data.count(_CENTRAL_DIRECTORY_ENTRY), "has")
        archive = zipfile.ZipFile(io.BytesIO(data))
    except FileRefused as exc:
        problems.append(FileProblem(name, f"{exc}; nothing in it was read"))
        return
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError):
        problems.append(FileProblem(name, "not a readable zip file"))
        return
    containers.setdefault(name, False)
    with archive:
        for info in archive.infolist():
            base = info.filename.replace("\\", "/").rsplit("/", 1)[-1]  # "" for a folder (and for no name)
            if not base.lower().endswith(".json") or NOT_MUSIC_NAME.match(base):
                continue
            if problem := _member_problem(info):
                problems.append(FileProblem(shown_name(info.filename), problem))
                containers[name] = True  # it may hold a history: "holds no streaming history" would mislead
                continue
            yield Candidate(shown_name(info.filename), bool(HISTORY_NAME.match(base)), False, name,
                            partial(_open_member, archive, info))


def _open_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> IO[bytes]:
    try:
        return archive.open(info)
    except (RuntimeError, NotImplementedError) as exc:  # encrypted or unknown method despite the flags
        raise FileRefused(f"cannot be unpacked ({exc})") from None
    except _DAMAGED as exc:
        raise FileRefused(damaged_sentence(exc)) from None


def _open_file(path: Path) -> IO[bytes]:
    return path.open("rb")


def _data_candidates(name: str, data: bytes, budget: Budget, problems: list[FileProblem],
                     containers: dict[str, bool]) -> Iterator[Candidate]:
    """An uploaded file's candidates: the JSON members of a zip, or the file itself."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = shown_name(name)
    if len(data) > budget.limits.max_upload_bytes:
        problems.append(FileProblem(name, f"larger than {size_text(budget.limits.max_upload_bytes)}, "
                                          f"the largest file this app takes"))
        return
    if data[:4] == _ZIP_MAGIC or name.lower().endswith(".zip"):
        yield from _zip_candidates(name, data, budget, problems, containers)
        return
    try:
        budget.take_files(1, "the upload has")
    except FileRefused as exc:
        problems.append(FileProblem(name, str(exc)))
        return
    yield Candidate(name, bool(HISTORY_NAME.match(base)), True, None,
                    lambda: io.BytesIO(data))


def _folder_candidates(path: Path, budget: Budget, problems: list[FileProblem],
                       containers: dict[str, bool]) -> Iterator[Candidate]:
    folder = shown_name(str(path))
    containers.setdefault(folder, False)
    for child in sorted(path.rglob("*.json")):
        if not child.is_file() or NOT_MUSIC_NAME.match(child.name):
            continue
        name = shown_name(str(child.relative_to(path)))
        try:
            budget.take_files(1, f"{shown_name(path.name)} has")
        except FileRefused as exc:
            problems.append(FileProblem(name, f"{exc}; the rest of the folder was not read"))
            return
        yield Candidate(name, bool(HISTORY_NAME.match(child.name)), False, folder, partial(_open_file, child))


def _item_data(item: Any) -> tuple[str, bytes]:
    """(name, bytes) of a ``(name, bytes)`` pair or an uploaded file (``.name``, ``.getvalue()``)."""
    if isinstance(item, tuple) and len(item) == 2:
        return str(item[0]), bytes(item[1])
    return str(getattr(item, "name", "upload")), bytes(item.getvalue())


def candidates(source: Source, name: str | None, budget: Budget, problems: list[FileProblem],
               containers: dict[str, bool]) -> Generator[Candidate, None, None]:
    """Every JSON file of ``source`` that may hold plays; what cannot be read goes to ``problems``.

    Each zip or folder opened is added to ``containers`` (as False: the caller marks those in
    which it found a history). Raises ExportError for a path that does not exist.
    """
    if isinstance(source, (bytes, bytearray)):
        yield from _data_candidates(name or "upload", bytes(source), budget, problems, containers)
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if path.is_dir():
            yield from _folder_candidates(path, budget, problems, containers)
        elif path.is_file():
            if path.stat().st_size > budget.limits.max_upload_bytes:
                problems.append(FileProblem(shown_name(path.name), f"larger than {size_text(budget.limits.max_upload_bytes)}, "
                                                       f"the largest file this app takes"))
                return
            yield from _data_candidates(path.name, path.read_bytes(), budget, problems, containers)
        else:
            raise ExportError(f"{shown_name(str(path))}: no such file or folder")
    else:
        for item in source:
            item_name, data = _item_data(item)
            yield from _data_candidates(item_name, data, budget, problems, containers)
