"""The one name normalizer, history matching on each path, and the app's fuzzy search."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import pytest

from engine.core.matching import (
    CatalogIndex,
    match_history,
    match_key,
    normalize_artist,
    normalize_title,
    parse_track_id,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Let It Be - Remastered 2009", "let it be"),
        ("Hey Jude - 2015 Remaster", "hey jude"),
        ("Hotel California - 2013 Remaster", "hotel california"),
        ("Vivo para Quererte - Remasterizado", "vivo para quererte"),
        ("Bohemian Rhapsody – Live Aid", "bohemian rhapsody"),
        ("Song - Live at Wembley 1986", "song"),
        ("Song (Live at Wembley) (Remix)", "song remix"),  # a remix is another recording
        ("Fala Comigo - Ao Vivo", "fala comigo"),
        ("Señorita (feat. Camila Cabello) [Radio Edit]", "senorita"),
        ("Levitating (feat. DaBaby) - Radio Edit", "levitating"),
        ("Lonely (with benny blanco)", "lonely"),
        ("Memories ft. Kid Cudi", "memories"),
        ("Don’t Stop Me Now - Remastered 2011", "dont stop me now"),
        ("Love & War", "love and war"),
        ("Dancing with Myself", "dancing with myself"),  # "with" inside a title stays
        ("Live", "live"),  # only an edition word: kept rather than emptied
        (None, ""),
    ],
)
def test_normalize_title(raw, expected):
    assert normalize_title(raw) == expected


def test_normalize_title_keeps_non_latin_text():
    assert normalize_title("夜に駆ける") != ""


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("The Beatles", "beatles"),
        ("Beyoncé", "beyonce"),
        ("Beyoncé feat. JAY-Z", "beyonce"),
        ("Simon & Garfunkel", "simon and garfunkel"),
        ("AC/DC", "ac dc"),
        ("Guns N' Roses", "guns n roses"),
        ("The The", "the"),
        ("", ""),
    ],
)
def test_normalize_artist(raw, expected):
    assert normalize_artist(raw) == expected


def test_match_key():
    assert match_key("The Beatles", "Let It Be - Remastered 2009") == match_key("beatles", "LET IT BE")
    assert match_key("Simon and Garfunkel", "The Boxer") == match_key("Simon & Garfunkel", "The Boxer (Live)")
    assert match_key("Beatles", "Let It Be") != match_key("Beatles", "Let It Be (Remix)")
    assert match_key("", "Song") == "" and match_key("Artist", None) == ""


def test_parse_track_id():
    assert parse_track_id("spotify:track:4saklk6nie3yiGePpBwUoc") == "4saklk6nie3yiGePpBwUoc"
    assert parse_track_id(" 4saklk6nie3yiGePpBwUoc ") == "4saklk6nie3yiGePpBwUoc"
    assert parse_track_id("") is None and parse_track_id(None) is None


@dataclass
class Item:
    track_id: str | None
    title: str
    artist: str
    weight: float


@pytest.fixture()
def index() -> CatalogIndex:
    items = pd.DataFrame(
        {
            "track_id": ["t_hotel", "t_hotel_live", "t_desperado", "t_take", "t_boxer", "t_halo", "t_lonely"],
            "name": [
                "Hotel California - 2013 Remaster",
                "Hotel California - Live",
                "Desperado",
                "Take It Easy",
                "The Boxer",
                "Halo",
                "Lonely (with benny blanco)",
            ],
            "artists": [
                ["Eagles"],
                ["Eagles"],
                ["Eagles"],
                ["Eagles"],
                ["Simon & Garfunkel"],
                ["Beyoncé"],
                ["Justin Bieber", "benny blanco"],
            ],
            "popularity": [84, 20, 60, 70, 65, 75, 81],
        }
    )
    return CatalogIndex.from_items(items)


def test_match_history_paths(index):
    history = [
        Item("spotify:track:ignored_not_in_catalogue", "Halo", "Beyonce", 2.0),  # id unknown -> name
        Item("t_boxer", "whatever", "whoever", 1.0),  # by id
        Item(None, "Hotel California", "The Eagles", 3.0),  # name: the more popular edition wins
        Item(None, "Lonely", "benny blanco", 1.0),  # name via a featured artist
        Item(None, "A 2026 Song Nobody Has", "Eagles", 4.0),  # artist only
        Item(None, "Unknown", "Nobody Known", 5.0),  # unmatched
        Item(None, "Another New One", "Eagles", -1.0),  # a skip of an unknown song: unmatched
    ]
    result = match_history(history, index)
    assert result.counts == {"track_id": 1, "name": 3, "artist": 1, "unmatched": 2}
    assert result.total == 7
    assert result.match_rates["name"] == pytest.approx(3 / 7)
    assert result.match_rate == pytest.approx(5 / 7)
    assert [i.title for i in result.unmatched] == ["Unknown", "Another New One"]
    # an artist-only match is evidence about the artist, not about one of their tracks
    assert result.weights == pytest.approx({"t_halo": 2.0, "t_boxer": 1.0, "t_hotel": 3.0, "t_lonely": 1.0})
    assert result.artist_weights == {"Eagles": 4.0}  # no artist ids: keyed by the catalogue's name


def test_artist_only_matches_are_keyed_by_the_catalogue_artist_id():
    items = pd.DataFrame({"track_id": ["t1", "t2"], "name": ["One", "Two"],
                          "artists": [["The Cure"], ["Cure", "Guest"]],
                          "artist_ids": [["id_cure"], ["id_cure", "id_guest"]], "popularity": [10, 90]})
    index = CatalogIndex.from_items(items)
    result = match_history([Item(None, "Unknown", "Cure", 2.0), Item(None, "B-side", "the cure", 1.0),
                            Item(None, "Song", "Guest", 0.5)], index)
    assert result.artist_weights == {"id_cure": 3.0, "id_guest": 0.5} and result.weights == {}
    assert result.counts["artist"] == 3


def test_match_history_keeps_negative_totals_for_masking(index):
    result = match_history([Item("t_halo", "Halo", "Beyoncé", 1.0), Item("t_halo", "Halo", "Beyoncé", -3.0)], index)
    assert result.weights == {"t_halo": -2.0}
    assert result.positive_weights() == {}


def test_empty_history(index):
    result = match_history([], index)
    assert result.total == 0 and result.match_rate == 0.0 and result.weights == {}


def test_search_tolerates_typos_and_order(index):
    assert index.search("eagles hotel californa")[0][0] == "t_hotel"  # popular edition first
    assert index.search("desperadoo eagles")[0][0] == "t_desperado"
    assert index.search("simon garfunkle boxer")[0][0] == "t_boxer"
    hits = index.search("halo", limit=3)
    assert hits[0][0] == "t_halo" and 0 < hits[0][1] <= 100 and len(hits) <= 3
    assert index.search("   ") == []


def test_rows_with_factors_win_clashes():
    items = pd.DataFrame(
        {
            "track_id": ["popular_no_factors", "with_factors"],
            "name": ["Song", "Song - Remastered"],
            "artists": [["A"], ["A"]],
            "artist_ids": [["id_no_factors"], ["id_with_factors"]],
            "popularity": [90, 10],
            "has_factors": [False, True],
        }
    )
    index = CatalogIndex.from_items(items)
    assert index.lookup_name("a", "song") == "with_factors"
    assert index.artist_key("A") == "id_with_factors"


def test_from_items_requires_columns():
    with pytest.raises(ValueError, match="'artists'"):
        CatalogIndex.from_items(pd.DataFrame({"track_id": ["a"], "name": ["b"]}))
