"""Fuzzing the pure-Python parsing of the listening-data readers and the catalogue parser.

The readers of :mod:`engine.ingest.readers` parse on Spark; what they parse in Python is
fuzzed here without a session: the playlists CSV header, the HetRec header positions, the
Audioscrobbler alias chains, the name normalizer the playlists CSV is matched with, and the
report lines. The catalogue's list-literal parser (:func:`parse_list_literal`, the body of
its pandas UDF) is fuzzed too. Only :class:`~engine.core.errors.InputError` may come out.
"""

from __future__ import annotations

import csv
import io

import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from engine.core.errors import InputError
from engine.core.matching import match_key, normalize_artist, normalize_title, parse_track_id
from engine.ingest.catalog_parse import parse_list_literal
from engine.ingest.readers.artists import _header_positions, _resolve
from engine.ingest.readers.common import ReadReport, as_path_list, require_usable
from engine.ingest.readers.playlists import _CSV_REQUIRED, _csv_header, _match_keys

COLUMN_NAMES = st.sampled_from(["user_id", "artistname", "trackname", "playlistname", "userID", "artistID",
                                "weight", "id", "name", "url", "pictureURL"]) | st.text(max_size=8)
messy_text = st.text(max_size=40) | st.sampled_from(["", " ", "\t", '"', "'", ",", '""', "\r\n", "\x00", "\ufeff"])
#: A first line as a binary or one-line file gives it: long (an error must still be one short line).
long_lines = st.text(min_size=300, max_size=2000)


@settings(max_examples=1000)
@given(line=messy_text | long_lines | st.lists(COLUMN_NAMES, max_size=6).map(", ".join))
def test_playlists_csv_header_any_line(line: str) -> None:
    try:
        names = _csv_header("playlists.csv", line)
    except InputError as exc:
        assert str(exc).startswith("playlists.csv: ") and "\n" not in str(exc) and len(str(exc)) < 1200
        return
    assert set(_CSV_REQUIRED) <= set(names)


@settings(max_examples=400)
@given(names=st.lists(COLUMN_NAMES.filter(lambda n: "\x00" not in n and "\r" not in n and "\n" not in n), max_size=5),
       quote=st.booleans())
def test_playlists_csv_header_as_a_csv_writer_writes_it(names: list[str], quote: bool) -> None:
    columns = list(_CSV_REQUIRED) + names
    buf = io.StringIO()
    csv.writer(buf, quoting=csv.QUOTE_ALL if quote else csv.QUOTE_MINIMAL, lineterminator="").writerow(columns)
    parsed = _csv_header("p.csv", buf.getvalue())
    assert parsed[:3] == list(_CSV_REQUIRED)


@settings(max_examples=600)
@given(header=messy_text | long_lines | st.lists(COLUMN_NAMES, max_size=6).map("\t".join),
       required=st.sampled_from([("userID", "artistID", "weight"), ("id", "name")]))
def test_hetrec_header_positions(header: str, required: tuple[str, ...]) -> None:
    try:
        positions = _header_positions("user_artists.dat", header, required)
    except InputError as exc:
        assert str(exc).startswith("user_artists.dat: required column")
        assert "\n" not in str(exc) and len(str(exc)) < 1200
        return
    names = [h.strip().strip('"').lower() for h in header.split("\t")]
    assert all(names[positions[c]] == c.lower() for c in required)


@settings(max_examples=800)
@given(aliases=st.dictionaries(st.sampled_from("abcdefgh"), st.sampled_from("abcdefgh"), min_size=1))
def test_audioscrobbler_alias_chains_end_even_in_cycles(aliases: dict[str, str]) -> None:
    for start in aliases:
        end = _resolve(start, aliases)
        assert end in aliases.values()
        # Following the chain from the start reaches the end without repeating an id first.
        seen, current = {start}, aliases[start]
        while current != end:
            assert current not in seen
            seen.add(current)
            current = aliases[current]


cells = st.none() | st.integers() | st.floats() | messy_text


@settings(max_examples=1000)
@given(artist=cells, title=cells)
def test_the_playlists_name_normalizer(artist: object, title: object) -> None:
    key = match_key(artist, title)
    assert isinstance(key, str) and key == key.strip()
    assert isinstance(normalize_artist(artist), str) and isinstance(normalize_title(title), str)
    parse_track_id(title)
    keys = _match_keys(pd.Series([artist], dtype=object), pd.Series([title], dtype=object))
    assert keys.tolist() == [key]


@settings(max_examples=300)
@given(read=st.integers(0, 10**12), kept=st.integers(0, 10**12),
       rejected=st.dictionaries(messy_text, st.integers(0, 10**9), max_size=4),
       ignored=st.dictionaries(messy_text, st.integers(0, 10**9), max_size=3),
       matched=st.none() | st.integers(0, 10**9), rate=st.none() | st.floats(0, 1), files=st.lists(messy_text, max_size=3))
def test_read_reports_summarise_any_counts(read: int, kept: int, rejected: dict[str, int], ignored: dict[str, int],
                                           matched: int | None, rate: float | None, files: list[str]) -> None:
    assume(rate is None or matched is not None)
    report = ReadReport(source="playlists", files=files, read=read, kept=kept, rejected=rejected, ignored=ignored,
                        matched=matched, match_rate=rate)
    report.related.append(ReadReport(source="side", rejected=rejected))
    assert report.summary().startswith(f"playlists: read {read:,}, kept {kept:,}")
    assert len(report.summary_lines()) == 2
    if files:
        assert as_path_list(files) == files
    else:
        with pytest.raises(InputError, match="no input files given"):
            as_path_list(files)
    if kept == 0:
        with pytest.raises(InputError, match="nothing usable"):
            require_usable(report, "x")
    else:
        require_usable(report, "x")


@settings(max_examples=1200)
@given(text=st.none() | messy_text | st.text(alphabet="[]'\",\\ abc()-+0123456789.eEjxu{}:", max_size=40))
def test_list_literal_cells_any_text(text: str | None) -> None:
    value = parse_list_literal(text)
    assert value is None or (isinstance(value, list) and all(isinstance(v, str) for v in value))


@settings(max_examples=800)
@given(names=st.lists(st.text(max_size=15), max_size=5), wrap=st.sampled_from(["{}", " {} ", "\t{}\n"]))
def test_list_literal_reads_back_what_repr_writes(names: list[str], wrap: str) -> None:
    assert parse_list_literal(wrap.format(repr(names))) == names
