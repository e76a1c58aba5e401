"""Fuzz "Extend a playlist"'s readers (webapp.extend): any pasted text, any CSV bytes, CSV-shaped
rows, and the Spotify playlist entries spotify.own_playlists reads. Nothing may raise; every
result stays within the bounds, and a reason is a single line."""

from __future__ import annotations

import csv
import io
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from spotify.history import entry_track, track_info
from webapp import extend

_CELL = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)
_HEADERS = st.lists(st.sampled_from([name for names in extend.CSV_FIELDS.values() for name in names]
                                    + ["position", "x", "", "Track URI", "TITLE"]), min_size=1, max_size=6)


def _checked(entries: list[extend.Entry], problems: list[str]) -> None:
    assert len(entries) <= extend.MAX_ENTRIES
    for entry in entries:
        assert entry.track_id or (entry.title and entry.artist)
        assert entry.year >= 0
    for problem in problems:
        assert problem and "\n" not in problem


@given(st.text(max_size=2000))
def test_any_pasted_text(text: str) -> None:
    _checked(*extend.parse_pasted(text))


@given(st.binary(max_size=3000))
def test_any_csv_bytes(data: bytes) -> None:
    _checked(*extend.parse_csv(data, filename="any.csv"))


@given(_HEADERS, st.lists(st.lists(_CELL, max_size=7), max_size=30), st.booleans())
def test_csv_shaped_rows(header: list[str], rows: list[list[str]], bom: bool) -> None:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    data = (("\ufeff" if bom else "") + out.getvalue()).encode("utf-8")
    entries, problems = extend.parse_csv(data, filename="rows.csv")
    _checked(entries, problems)
    if not any("no column" in p for p in problems):  # every row is an entry or a reason naming it
        n_rows = sum(1 for row in list(csv.reader(io.StringIO(out.getvalue())))[1:] if row)
        assert len(entries) + sum(p.startswith("rows.csv: row ") for p in problems) == n_rows


_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                     lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                     max_leaves=20)


@given(st.lists(st.dictionaries(st.sampled_from(["item", "track", "is_local", "added_at"]), _JSON, max_size=4),
                max_size=8))
def test_playlist_entries_become_entries_or_are_skipped(entries: list[dict[str, Any]]) -> None:
    for entry in entries:
        info = track_info(entry_track(entry))
        if info is not None:
            made = extend.entry_of(info)
            assert made.title == info.title and made.year >= 0
