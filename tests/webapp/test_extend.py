"""What "Extend a playlist" reads and says (webapp.extend): pasted lists, CSVs (this app's export
and Exportify's), their bounds and one-line reasons, matching, and the words of a pick."""

from __future__ import annotations

import pytest

from engine.bundle.load import load_bundle
from engine.core.config import ROOT
from engine.core.matching import CatalogIndex
from engine.serving.continuation import FIT_ARTIST, FIT_ERA, FIT_SOUND, Pick, PlaylistProfile
from spotify.history import TrackInfo
from spotify.playlists import tracks_to_csv
from webapp import extend
from webapp.extend import Entry

ID_A, ID_B = "4uLU6hMCjMI75M1A2tKUQC", "7ouMYWpwJ422jRcDASZB7P"


def test_a_pasted_list_takes_links_uris_ids_and_artist_title_lines() -> None:
    text = "\n".join([
        f"https://open.spotify.com/track/{ID_A}?si=abc", f"spotify:track:{ID_B}", ID_A,
        "# a comment", "", "Daft Punk – One More Time", "Queen - Bohemian Rhapsody", "a-ha — Take On Me",
        "just some words", "Artist-Title",
    ])
    entries, problems = extend.parse_pasted(text)
    assert entries == [Entry(ID_A, "", ""), Entry(ID_B, "", ""), Entry(ID_A, "", ""),
                       Entry(None, "One More Time", "Daft Punk"), Entry(None, "Bohemian Rhapsody", "Queen"),
                       Entry(None, "Take On Me", "a-ha")]
    assert problems == ["Line 9 (“just some words”) is neither “Artist – Title” nor a Spotify track link.",
                        "Line 10 (“Artist-Title”) is neither “Artist – Title” nor a Spotify track link."]


def test_a_pasted_list_is_bounded() -> None:
    entries, problems = extend.parse_pasted("\n".join(f"A{i} – T{i}" for i in range(extend.MAX_ENTRIES + 20)))
    assert len(entries) == extend.MAX_ENTRIES
    assert problems == [f"Only the first {extend.MAX_ENTRIES} songs are used; line {extend.MAX_ENTRIES + 1} and "
                        "later were left out."]
    long = "A – T\n" * (extend.MAX_PASTE_CHARS // 6 + 10)
    _, problems = extend.parse_pasted(long)
    assert problems[-1] == f"Only the first {extend.MAX_PASTE_CHARS:,} characters were read."


def test_this_apps_own_csv_export_reads_back() -> None:
    rows = [{"track_id": ID_A, "title": "=Risky", "artists": ["Björk", "Guest"]},
            {"track_id": None, "title": "No Id", "artists": ["Someone"]}]
    entries, problems = extend.parse_csv(tracks_to_csv(rows).encode("utf-8"), filename="mine.csv")
    assert problems == []
    # The export's CSV-injection guard (a leading ') is taken off again; the first artist is kept.
    assert entries == [Entry(ID_A, "=Risky", "Björk"), Entry(None, "No Id", "Someone")]


def test_an_exportify_csv_reads_with_its_release_years() -> None:
    data = ("\ufeffTrack URI,Track Name,Artist Name(s),Album Release Date\n"
            f"spotify:track:{ID_A},Song A,\"Artist X, Artist Y\",1999-05-01\n"
            ",Song B,Artist Z,2004\n"
            ",,,\n").encode()
    entries, problems = extend.parse_csv(data, filename="export.csv")
    assert entries == [Entry(ID_A, "Song A", "Artist X", 1999), Entry(None, "Song B", "Artist Z", 2004)]
    assert problems == ["export.csv: row 4 has neither a Spotify track id nor a title and an artist."]


@pytest.mark.parametrize("data, reason", [
    (b"name,when\nx,y\n", "list.csv: no column with a Spotify track id, or with a title and an artist "
                          "(its columns: name, when)."),
    (b"\xff\xfetitle\n", "list.csv is not UTF-8 text (byte 0): save it as UTF-8 CSV and upload it again."),
    (b"x" * (extend.MAX_UPLOAD_BYTES + 1), "list.csv is 1.0 MB: at most 1 MB can be read."),
])
def test_an_unreadable_csv_is_one_sentence_naming_it(data: bytes, reason: str) -> None:
    assert extend.parse_csv(data, filename="list.csv") == ([], [reason])


@pytest.fixture(scope="module")
def index() -> CatalogIndex:
    return CatalogIndex.from_items(load_bundle(ROOT / "models" / "demo").items)


def test_entries_match_by_id_by_name_and_by_artist_in_order(index: CatalogIndex) -> None:
    items = load_bundle(ROOT / "models" / "demo").items
    first, second = items.iloc[0], items.iloc[1]
    artist = items.iloc[2]
    entries = [Entry(second["track_id"], "", ""), Entry(None, first["name"], first["artists"][0]),
               Entry(None, "A song the catalogue lacks", artist["artists"][0]), Entry(None, "Nothing", "Nobody Atall")]
    matched = extend.match_entries(entries, index)
    assert matched.playlist.tracks == (second["track_id"], first["track_id"])  # playlist order
    assert list(matched.playlist.artists) == [artist["artist_ids"][0]] and matched.playlist.years == ()
    assert (matched.match.total, matched.match.matched) == (4, 3)
    dated = extend.match_entries([Entry(second["track_id"], "", "", 1990), Entry(None, "x", "y", 2000)], index)
    assert dated.playlist.years == (1990, 2000)  # the source's years when every entry has one


def test_a_spotify_track_becomes_an_entry_with_its_year() -> None:
    info = TrackInfo(track_id=ID_A, title="Song", artists=("A", "B"), release_date="2001-02-03")
    assert extend.entry_of(info) == Entry(ID_A, "Song", "A", 2001)
    assert extend.entry_of(TrackInfo(track_id=None, title="x", artists=("y",))).year == 0


def test_the_words_of_a_pick_and_a_profile() -> None:
    profile = PlaylistProfile(artists=(("a1", "Abba", 0.3), ("a2", "Blur", 0.2)), sounds=((3, 0.6),), era=(1994, 2008),
                              n_tracks=10, n_in_model=9)
    labels = {3: "calm, acoustic"}
    assert extend.profile_sentence(profile, labels) == ("Its artists: Abba and Blur · its sound: calm, acoustic (60%) · "
                                                        "its era: 1994–2008")
    pick = Pick("t", 1, 2.0, 1.5, (FIT_ARTIST, FIT_SOUND, FIT_ERA), "Abba", 3, 1999)
    assert extend.pick_lines(pick, profile, labels, ["Song A", "Song B"]) == [
        "Fits its artists: Abba", "Its sound: calm, acoustic", "Its era: 1999 (the playlist spans 1994–2008)",
        "Goes with “Song A” and “Song B”"]
    bare = Pick("t", 1, 2.0, 1.5, (), None, None, 0)
    assert extend.pick_lines(bare, profile, labels) == ["Listened with the playlist's songs"]
    empty = PlaylistProfile((), (), None, 0, 0)
    assert extend.profile_sentence(empty, labels).startswith("The catalogue knows too little")


def test_a_new_playlists_name_stays_within_spotifys_100_characters() -> None:
    assert extend.extended_name("Road trip") == "Road trip (extended)"
    assert len(extend.extended_name("x" * 150)) == 100 and extend.extended_name("  ") == "My playlist (extended)"
