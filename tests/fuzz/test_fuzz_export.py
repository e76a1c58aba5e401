"""Fuzzing the data-export reader: whatever is uploaded, the answer is a result or an ExportError.

Inputs: any JSON document, lists of rows built from the fields a play has (with values of
every type), raw bytes, byte-level mutations of real export files and of zips built from
generated members, and several uploads at once. Every result must also be coherent: counts
add up, weights are finite, every problem and warning is one line.
"""

from __future__ import annotations

import io
import json
import math
import zipfile
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spotify.errors import ExportError
from spotify.export_import import ACCOUNT_FIELDS, EXTENDED_FIELDS, ExportResult, read_export
from spotify.export_limits import ExportLimits
from spotify.history import entry_track, parse_time, track_info
from tests.conftest import TEST_DATA

EXPORT = TEST_DATA / "spotify"
REAL = [(p.name, p.read_bytes()) for p in sorted(EXPORT.glob("*.json"))]
#: Small limits, so that generated inputs also reach them.
SMALL = ExportLimits(max_upload_bytes=64 * 1024, max_files=8, max_member_bytes=16 * 1024, max_unpacked_bytes=48 * 1024,
                     max_rows=200, max_json_values=5_000, max_depth=6, max_tracks=50, max_name_chars=2_000)
NAMES = st.sampled_from(["StreamingHistory_music_0.json", "Streaming_History_Audio_2024_0.json", "endsong.json",
                         "StreamingHistory0_NEW.json", "Userdata.json", "upload", "export.zip", "x.json"])

scalars = (st.none() | st.booleans() | st.integers(min_value=-2**70, max_value=2**70)
           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)
timestamps = (st.datetimes().map(lambda d: d.isoformat()) | st.datetimes().map(lambda d: d.strftime("%Y-%m-%d %H:%M"))
              | st.sampled_from(["2024-01-01T10:00:00Z", "2024-13-01 10:00", "", "Z", "9999-12-31T23:59:59-23:59",
                                 "0001-01-01T00:00:00+23:59", "yesterday"]))
field_values = (scalars | timestamps | st.lists(scalars, max_size=2) | st.dictionaries(st.text(max_size=3), scalars, max_size=2)
                | st.sampled_from(["spotify:track:6xHEqpTvQh2ZTcUb2JROo9", "spotify:track:", "spotify:episode:1",
                                   "Unknown Artist", "Unknown Track", 30_000, 29_999, 0, -1, True]))
FIELDS = sorted(ACCOUNT_FIELDS | EXTENDED_FIELDS) + ["podcastName", "episodeName", "extra"]
rows = st.dictionaries(st.sampled_from(FIELDS), field_values, max_size=len(FIELDS))
row_lists = st.lists(rows | scalars, max_size=8)


def check(call: Any) -> ExportResult | None:
    """Run one import; only ExportError may come out, and a result must be coherent."""
    try:
        result: ExportResult = call()
    except ExportError as exc:
        assert str(exc) and "\n" not in str(exc)
        return None
    counts = result.counts
    assert counts["plays"] == counts["full_plays"] + counts["short_or_skipped"]
    assert all(v >= 0 for v in counts.values())
    history = result.history
    assert all(math.isfinite(i.weight) for i in history.items + history.negative)
    assert all(i.weight > 0 for i in history.items) and all(i.weight <= 0 for i in history.negative)
    assert sum(i.plays + i.skips for i in history.items + history.negative) == counts["plays"]
    assert all("\n" not in w for w in history.warnings)
    assert all("\n" not in str(p) for p in result.problems)
    return result


def zip_of(members: list[tuple[str, bytes]], method: int) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, data in members:
            zf.writestr(name, data)
    return buf.getvalue()


def mutate(data: bytes, edits: list[tuple[int, int, bytes]]) -> bytes:
    """Apply (position, bytes removed, bytes inserted) edits; positions wrap around ``data``."""
    out = bytearray(data)
    for at, cut, insert in edits:
        at = at % (len(out) + 1)
        out[at:at + cut] = insert
    return bytes(out)


edits = st.lists(st.tuples(st.integers(min_value=0, max_value=2**20), st.integers(min_value=0, max_value=8),
                           st.binary(max_size=8)), min_size=1, max_size=6)


@settings(max_examples=1200)
@given(value=json_values, name=NAMES, small=st.booleans())
def test_any_json_document(value: Any, name: str, small: bool) -> None:
    data = json.dumps(value).encode()
    check(lambda: read_export(data, name=name, limits=SMALL if small else ExportLimits()))


@settings(max_examples=2000)
@given(value=row_lists, name=NAMES, small=st.booleans())
def test_lists_of_play_shaped_rows(value: list[Any], name: str, small: bool) -> None:
    data = json.dumps(value, default=str).encode()
    check(lambda: read_export(data, name=name, limits=SMALL if small else ExportLimits()))


@settings(max_examples=2000)
@given(data=st.binary(max_size=300), prefix=st.sampled_from([b"", b"[", b"[{", b"PK\x03\x04", b"\xef\xbb\xbf["]),
       name=NAMES)
def test_raw_bytes(data: bytes, prefix: bytes, name: str) -> None:
    check(lambda: read_export(prefix + data, name=name, limits=SMALL))


@settings(max_examples=1500)
@given(which=st.sampled_from(REAL), changes=edits)
def test_mutated_real_export_files(which: tuple[str, bytes], changes: list[tuple[int, int, bytes]]) -> None:
    name, data = which
    check(lambda: read_export(mutate(data, changes), name=name))


# zipfile cuts a name at NUL (and cannot write the empty name that leaves): NUL is left out here;
# mutations still reach the reader with any bytes in a name.
members = st.lists(st.tuples(NAMES | st.text(max_size=12).map(lambda s: s.replace("\x00", "") + ".json"),
                             row_lists.map(lambda r: json.dumps(r, default=str).encode()) | st.binary(max_size=60)),
                   max_size=4)


@pytest.mark.filterwarnings("ignore:Duplicate name:UserWarning")  # zipfile writing a generated zip
@settings(max_examples=1200)
@given(files=members, method=st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2,
                                              zipfile.ZIP_LZMA]),
       changes=st.none() | edits, small=st.booleans())
def test_zips_and_mutated_zips(files: list[tuple[str, bytes]], method: int,
                               changes: list[tuple[int, int, bytes]] | None, small: bool) -> None:
    data = zip_of(files, method)
    if changes:
        data = mutate(data, changes)
    check(lambda: read_export(data, name="my_spotify_data.zip", limits=SMALL if small else ExportLimits()))


@settings(max_examples=500)
@given(uploads=st.lists(st.tuples(NAMES, row_lists.map(lambda r: json.dumps(r, default=str).encode())
                                  | st.sampled_from([d for _, d in REAL]) | st.binary(max_size=40)), max_size=5))
def test_several_uploads_at_once(uploads: list[tuple[str, bytes]]) -> None:
    check(lambda: read_export(uploads, limits=SMALL))


@settings(max_examples=1000)
@given(obj=json_values | st.dictionaries(st.sampled_from(["name", "artists", "album", "id", "is_local", "type",
                                                          "popularity", "duration_ms", "preview_url", "images",
                                                          "item", "track", "played_at"]), json_values, max_size=8))
def test_api_track_objects(obj: Any) -> None:
    info = track_info(obj)
    assert info is None or (info.title and info.artists and all(isinstance(a, str) for a in info.artists))
    entry_track(obj)
    parse_time(obj.get("played_at") if isinstance(obj, dict) else obj)
