"""Hostile data-export uploads, and a runner that measures one import in a fresh process.

Each :class:`Hostile` writes one upload to a folder without holding it in memory (zip members
are streamed), and names the part of the sentence the visitor should see. ``python -m
tests.spotify.hostile_exports PATH`` imports PATH as the page would (its bytes) and prints one
JSON line: the peak RSS over the process's RSS just before the import (``peak_mib``), its CPU
seconds, and what the visitor sees (the error, or the warnings of a partial import). Used by
``tests/spotify/test_export_limits.py`` (the memory bound) and ``bench/upload.py`` (CPU).

:data:`HOSTILE_FILES` are small files that must each give one sentence: deep nesting, a
5,000-digit number, an encrypted zip, a Deflate64 zip, a corrupt deflate stream...
"""

from __future__ import annotations

import io
import json
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from spotify.errors import ExportError
from spotify.export_import import read_export

MiB = 1024 * 1024


@dataclass(frozen=True)
class Hostile:
    """One hostile upload: how to write it, and a fragment of the sentence it must give."""

    name: str
    build: Callable[[Path], Path]
    expect: str


def _zip(path: Path, members: Iterator[tuple[str, Iterator[bytes]]], *, level: int = 6) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as zf:
        for name, chunks in members:
            with zf.open(name, "w", force_zip64=True) as out:
                for chunk in chunks:
                    out.write(chunk)
    return path


def _repeat(head: bytes, block: bytes, times: int, tail: bytes) -> Iterator[bytes]:
    yield head
    for _ in range(times):
        yield block
    yield tail


ROW = b'{"endTime": "2024-01-01 10:00", "artistName": "A", "trackName": "T", "msPlayed": 200000}'
AUDIO = "Spotify Extended Streaming History/Streaming_History_Audio_2024_{}.json"
ACCOUNT = "Spotify Account Data/StreamingHistory_music_{}.json"


def zip_bomb(folder: Path) -> Path:
    """1 GiB of spaces in one history file: a ~1 MB zip."""
    return _zip(folder / "bomb.zip", iter([(AUDIO.format(0), _repeat(b"[", b" " * MiB, 1024, b"]"))]), level=9)


def zip_bombs(folder: Path) -> Path:
    """20 history files of 30 MiB (spaces, then one play): 600 MiB unpacked in all."""
    members = ((AUDIO.format(i), _repeat(b"[", b" " * MiB, 30, ROW + b"]")) for i in range(20))
    return _zip(folder / "bombs.zip", members, level=9)


def many_members(folder: Path) -> Path:
    """100,000 empty members (the central directory alone would be ~50 MB of ZipInfo objects)."""
    path = folder / "many.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for i in range(100_000):
            zf.writestr(f"f{i}.json", b"")
    return path


def deep_nesting(folder: Path) -> Path:
    """A history file that is 50 million ``[``."""
    return _zip(folder / "deep.zip", iter([(ACCOUNT.format(0), _repeat(b"", b"[" * MiB, 50, b""))]), level=9)


def four_big_members(folder: Path) -> Path:
    """Four 50 MB history files of plays (the issue's second case)."""
    block = (ROW + b",") * (MiB // (len(ROW) + 1))
    members = ((ACCOUNT.format(i), _repeat(b"[", block, 50, ROW + b"]")) for i in range(4))
    return _zip(folder / "four.zip", members)


def empty_rows(folder: Path) -> Path:
    """280 MiB of ``{},``: 98 million empty rows (json.loads would build ~6 GB of dicts)."""
    return _zip(folder / "rows.zip", iter([(AUDIO.format(0), _repeat(b"[", b"{}," * 349_525, 280, b"{}]"))]), level=9)


def token_bomb(folder: Path) -> Path:
    """Three 30 MiB history files whose one row holds an array of 15 million zeros each."""
    members = ((AUDIO.format(i), _repeat(b'[{"ts": [', b"0," * (MiB // 2), 30, b'0]}]')) for i in range(3))
    return _zip(folder / "tokens.zip", members, level=9)


def long_string(folder: Path) -> Path:
    """One play whose title is 31 MiB long."""
    head = b'[{"endTime": "2024-01-01 10:00", "artistName": "A", "msPlayed": 1, "trackName": "'
    return _zip(folder / "string.zip", iter([(ACCOUNT.format(0), _repeat(head, b"x" * MiB, 31, b'"}]'))]), level=9)


def largest_export(folder: Path) -> Path:
    """The largest import the limits let through: 500,000 plays of 100,000 tracks whose names
    fill ``max_name_chars`` (160 characters a track), in 34 files of 15,000 plays."""

    def rows(first: int) -> Iterator[bytes]:
        yield b"["
        for i in range(first, min(first + 15_000, 500_000)):
            t = i % 100_000
            row = {"ts": f"{2010 + i // 50_000}-01-01T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z",
                   "ms_played": 200_000, "master_metadata_track_name": f"T{t:07d}".ljust(80, "x"),
                   "master_metadata_album_artist_name": f"A{t:07d}".ljust(40, "y"),
                   "master_metadata_album_album_name": f"L{t:07d}".ljust(40, "z"),
                   "spotify_track_uri": f"spotify:track:{t:022d}", "skipped": False}
            yield (b"," if i > first else b"") + json.dumps(row).encode()
        yield b"]"

    members = ((AUDIO.format(f), rows(f)) for f in range(0, 500_000, 15_000))
    return _zip(folder / "largest.zip", members)


HOSTILE = (
    Hostile("zip bomb", zip_bomb, "unpacks to more than 32 MiB"),
    Hostile("zip bombs", zip_bombs, "the export unpacks to more than 512 MiB"),
    Hostile("many members", many_members, "has more than the 1,000 files one import may have"),
    Hostile("deep nesting", deep_nesting, "nested deeper than 16 levels"),
    Hostile("four 50 MB members", four_big_members, "the export holds more than 500,000 entries (plays)"),
    Hostile("empty rows", empty_rows, "the export holds more than 500,000 entries (plays)"),
    Hostile("token bomb", token_bomb, "the export holds more than 30,000,000 JSON values"),
    Hostile("long string", long_string, "add up to more than 16,000,000 characters"),
    Hostile("largest export", largest_export, ""),
)


def _status(field: str) -> int:
    """A ``/proc/self/status`` value in bytes (``VmRSS``, ``VmHWM``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


def measure(path: Path) -> dict[str, object]:
    """Import ``path`` as the page does and return peak memory, CPU and the visitor's sentences."""
    data = path.read_bytes()
    try:  # start the high-water mark from here (Linux); without it the peak only reads higher
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass
    before, cpu = _status("VmRSS"), time.process_time()
    try:
        result = read_export(data, name=path.name)
        seen = list(result.history.warnings)
        n_plays = result.counts["plays"]
    except ExportError as exc:
        seen, n_plays = [str(exc)], 0
    return {"peak_mib": (_status("VmHWM") - before) / MiB, "cpu_s": time.process_time() - cpu,
            "seen": seen, "plays": n_plays}


# -- small hostile files: one sentence each ---------------------------------------------------
PLAY = {"endTime": "2024-01-01 10:00", "artistName": "Robyn", "trackName": "Dancing On My Own", "msPlayed": 200_000}
NAME = ACCOUNT.format(0)


def plays(n: int, **fields: object) -> bytes:
    """``n`` distinct account-data plays (one a minute) as JSON."""
    rows = [{**PLAY, "endTime": f"2024-01-01 {i // 60 % 24:02d}:{i % 60:02d}", "trackName": f"Song {i}", **fields}
            for i in range(n)]
    return json.dumps(rows).encode()


def make_zip(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def deflate64_zip() -> bytes:
    """A zip whose member says Deflate64 (method 9), which Python's zipfile cannot unpack."""
    data = bytearray(make_zip({NAME: plays(2)}, zipfile.ZIP_STORED))
    data[8:10] = (9).to_bytes(2, "little")  # the local header's method
    central = data.index(b"PK\x01\x02")
    data[central + 10:central + 12] = (9).to_bytes(2, "little")
    return bytes(data)


def encrypted_zip() -> bytes:
    """A zip whose member is flagged as encrypted (traditional PKWARE encryption, bit 0)."""
    data = bytearray(make_zip({NAME: plays(2)}))
    data[6] |= 0x1  # the local header's flags
    central = data.index(b"PK\x01\x02")
    data[central + 8] |= 0x1
    return bytes(data)


def corrupt_deflate_zip() -> bytes:
    """A zip whose member's deflate stream starts with a block of the reserved type 3."""
    data = bytearray(make_zip({NAME: plays(50)}))
    start = 30 + int.from_bytes(data[26:28], "little") + int.from_bytes(data[28:30], "little")
    data[start] = 0xFF
    return bytes(data)


def bad_crc_zip() -> bytes:
    """A zip whose stored member was changed after its checksum was written."""
    data = bytearray(make_zip({NAME: plays(2)}, zipfile.ZIP_STORED))
    at = data.index(b"Robyn")
    data[at] = ord("r")
    return bytes(data)


HOSTILE_FILES = {
    "deep nesting": (("deep.json", b"[" * 100_000), "deep.json: nested deeper than 16 levels, which no history file is"),
    "deep in a row": ((NAME, b'[{"msPlayed": ' + b"[" * 20 + b"]" * 20 + b"}]"),
                      f"{NAME}: nested deeper than 16 levels, which no history file is"),
    "5,000-digit number": ((NAME, b'[{"endTime": "2024-01-01 10:00", "msPlayed": ' + b"9" * 5000 + b"}]"),
                           f"{NAME}: holds a number too long to read (an integer of more than 18 digits)"),
    "encrypted zip": (("export.zip", encrypted_zip()),
                      f"{NAME}: is encrypted (password-protected); upload the export as Spotify sent it"),
    "Deflate64 zip": (("export.zip", deflate64_zip()),
                      f"{NAME}: is compressed with Deflate64, which this app cannot unpack; zip it again with "
                      f"ordinary (deflate) compression"),
    "corrupt deflate": (("export.zip", corrupt_deflate_zip()),
                        f"{NAME}: is damaged (its compressed data cannot be unpacked); download the export again"),
    "bad checksum": (("export.zip", bad_crc_zip()),
                     f"{NAME}: is damaged (its checksum does not match); download the export again"),
    "not a zip": (("export.zip", b"PK\x03\x04" + b"\x00" * 100), "export.zip: not a readable zip file"),
    "UTF-16": ((NAME, "[]".encode("utf-16")), f"{NAME}: not UTF-8 text (byte 0)"),
    "truncated": ((NAME, plays(3)[:20]), f"{NAME}: not valid JSON (the file ends in the middle)"),
    "1,001 files": (("export.zip", make_zip({f"f{i}.json": b"" for i in range(1_001)})),
                    "export.zip: has more than the 1,000 files one import may have (a Spotify export has a few "
                    "dozen); nothing in it was read"),
}


if __name__ == "__main__":
    print(json.dumps(measure(Path(sys.argv[1]))))
