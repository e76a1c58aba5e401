"""The data-export import within its limits: hostile uploads cost a sentence, not memory.

The memory test runs each hostile upload of :mod:`tests.spotify.hostile_exports` in a fresh
process and reads its peak RSS; the other tests use small :class:`ExportLimits` so that each
limit is reached with a few bytes.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from spotify.errors import ExportError
from spotify.export_files import FileProblem
from spotify.export_import import read_export
from spotify.export_limits import LIMITS, ExportLimits, MiB
from tests.conftest import ROOT
from tests.spotify.hostile_exports import HOSTILE, HOSTILE_FILES, NAME, Hostile, make_zip, plays

MEMORY_BOUND_MIB = 256


def error_of(source: object, **kwargs: object) -> str:
    with pytest.raises(ExportError) as info:
        read_export(source, **kwargs)  # type: ignore[arg-type]
    message = str(info.value)
    assert "\n" not in message
    return message


# -- the memory bound ------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the peak RSS from /proc (Linux)")
@pytest.mark.parametrize("hostile", HOSTILE, ids=[h.name for h in HOSTILE])
def test_a_hostile_upload_stays_within_256_mib_and_says_why(hostile: Hostile, tmp_path: Path) -> None:
    path = hostile.build(tmp_path)
    out = subprocess.run([sys.executable, "-m", "tests.spotify.hostile_exports", str(path)], cwd=ROOT,
                         capture_output=True, text=True, check=True)
    measured = json.loads(out.stdout)
    assert measured["peak_mib"] <= MEMORY_BOUND_MIB, measured
    seen = measured["seen"]
    assert all("\n" not in sentence for sentence in seen)
    if hostile.expect:
        assert any(hostile.expect in sentence for sentence in seen), seen
    else:  # the largest import the limits allow goes through whole
        assert measured["plays"] == LIMITS.max_rows and seen == []


# -- each limit --------------------------------------------------------------------------------
def test_too_many_members_refuse_the_zip_before_it_is_opened() -> None:
    data = make_zip({f"f{i}.json": b"" for i in range(11)} | {NAME: plays(1)})
    message = error_of(data, name="export.zip", limits=ExportLimits(max_files=10))
    assert message == ("Could not read any streaming history: export.zip: has more than the 10 files one import "
                       "may have (a Spotify export has a few dozen); nothing in it was read.")
    assert read_export(data, name="export.zip", limits=ExportLimits(max_files=12)).counts["plays"] == 1


def test_an_upload_over_the_size_limit_is_refused_with_the_limit() -> None:
    message = error_of([("big.json", plays(50))], limits=ExportLimits(max_upload_bytes=1024))
    assert message == "Could not read any streaming history: big.json: larger than 1 KiB, the largest file this app takes."


def test_a_member_over_its_unpacked_limit_is_refused_and_the_others_read() -> None:
    data = make_zip({NAME: plays(1) + b" " * 5000, NAME.replace("_0", "_1"): plays(3)})
    result = read_export(data, name="export.zip", limits=ExportLimits(max_member_bytes=4096))
    assert result.counts["plays"] == 3
    assert [str(p) for p in result.problems] == [
        f"{NAME}: unpacks to more than 4 KiB, more than a streaming history file holds (Spotify's are at most "
        f"~15 MB); the play before that point was kept"]


def test_the_import_stops_at_its_unpacked_total_and_keeps_what_it_read() -> None:
    files = {NAME.replace("_0", f"_{i}"): plays(10) for i in range(5)}  # ~1 KB each
    size = len(plays(10))
    result = read_export(make_zip(files), name="export.zip", limits=ExportLimits(max_unpacked_bytes=2 * size + 10))
    assert len(result.files) == 2 and result.counts["plays"] == 10  # the same ten plays twice
    assert result.history.warnings[0] == (f"Stopped reading: the export unpacks to more than {2 * size + 10:,} bytes, the "
                                          f"most one import reads; what was read before that point was used.")


@pytest.mark.parametrize(("limits", "sentence"), [
    (ExportLimits(max_rows=5), "the export holds more than 5 entries (plays), the most one import reads"),
    (ExportLimits(max_json_values=30), "the export holds more than 30 JSON values, the most one import reads"),
    (ExportLimits(max_tracks=5), "the export names more than 5 different tracks, the most one import keeps"),
    (ExportLimits(max_name_chars=100), "the names of the export's tracks add up to more than 100 characters, "
                                       "the most one import keeps"),
])
def test_row_value_and_track_limits_stop_the_import_with_a_sentence(limits: ExportLimits, sentence: str) -> None:
    result = read_export(plays(20), name="StreamingHistory_music_0.json", limits=limits)
    assert f"Stopped reading: {sentence}; what was read before that point was used." in result.history.warnings
    assert 0 < result.counts["plays"] < 20


def test_a_limit_reached_before_any_play_is_an_error_naming_it() -> None:
    message = error_of(plays(3), name="StreamingHistory_music_0.json", limits=ExportLimits(max_json_values=3))
    assert message == ("Could not read any streaming history: reading stopped: the export holds more than 3 JSON "
                       "values, the most one import reads.")


def test_streamlit_takes_no_larger_upload_than_the_import() -> None:
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] * MiB == LIMITS.max_upload_bytes


# -- hostile JSON and zips: a sentence each ----------------------------------------------------
@pytest.mark.parametrize("case", list(HOSTILE_FILES))
def test_a_hostile_file_gives_one_sentence_and_the_other_files_still_import(case: str) -> None:
    (name, data), sentence = HOSTILE_FILES[case]
    message = error_of([(name, data)])
    assert message == f"Could not read any streaming history: {sentence}."
    good = ("StreamingHistory_music_9.json", plays(2))
    result = read_export([(name, data), good])
    assert result.counts["plays"] == 2 and sentence in [str(p) for p in result.problems]


def test_plays_before_a_broken_point_of_a_file_are_kept() -> None:
    data = plays(3)[:-1] + b', {"endTime": "2024-01-01 10:00", "msPlayed": ' + b"9" * 5000 + b"}]"
    result = read_export(data, name="StreamingHistory_music_0.json")
    assert result.counts["plays"] == 3
    assert result.problems == (FileProblem("StreamingHistory_music_0.json", "holds a number too long to read (an "
                                           "integer of more than 18 digits); the 3 plays before that point were kept"),)


def test_a_5000_digit_decimal_is_a_bad_value_not_an_error() -> None:
    row = b'{"endTime": "2024-01-01 10:00", "artistName": "A", "trackName": "T", "msPlayed": 1.' + b"9" * 5000 + b"}"
    result = read_export(plays(1)[:-1] + b", " + row + b"]", name="StreamingHistory_music_0.json")
    assert result.counts["plays"] == 1 and result.counts["bad_rows"] == 1
    assert "row 1: 'msPlayed' is not a number" in result.history.warnings[0]
