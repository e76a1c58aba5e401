"""spotify.ids: the one home of id, URI and link shapes; whole-string matches only."""

from __future__ import annotations

import pytest

from spotify.ids import (
    embed_url,
    is_open_spotify_url,
    is_spotify_id,
    track_id_of_uri,
    track_uri,
    track_url,
)

GOOD = "4uLU6hMCjMI75M1A2tKUQC"


def test_embed_urls_only_for_spotify_shaped_ids() -> None:
    good = "4uLU6hMCjMI75M1A2tKUQC"
    assert embed_url(good) == f"https://open.spotify.com/embed/track/{good}"
    for bad in ("syn:000001", good + "x", "4uLU6hMCjMI75M1A2tKUQ/", "javascript:alert(1)//aaaaaaaaaa", None, 42):
        assert embed_url(bad) is None
    assert embed_url(good + "\n") is None  # a trailing newline is not part of an id


@pytest.mark.parametrize("bad", [GOOD + "\n", "\n" + GOOD, GOOD[:-1], GOOD + "x", GOOD[:-1] + "-", "", None, 7])
def test_only_whole_22_character_base62_strings_are_ids(bad) -> None:
    assert is_spotify_id(GOOD)
    assert not is_spotify_id(bad)
    assert track_url(bad) is None and track_id_of_uri(f"spotify:track:{bad}") is None


def test_uris_and_links() -> None:
    assert track_url(GOOD) == f"https://open.spotify.com/track/{GOOD}"
    assert track_id_of_uri(f"spotify:track:{GOOD}") == GOOD and track_id_of_uri(f"spotify:episode:{GOOD}") is None
    assert track_uri(f"https://open.spotify.com/intl-de/track/{GOOD}#x") == f"spotify:track:{GOOD}"
    assert track_uri(f" {GOOD}\n") == f"spotify:track:{GOOD}"  # typed or pasted input is stripped first
    for bad in (f"https://evil.example/track/{GOOD}", f"https://open.spotify.com/album/{GOOD}", f"spotify:track:{GOOD}x"):
        with pytest.raises(ValueError, match="not a Spotify track id"):
            track_uri(bad)
    assert is_open_spotify_url("https://open.spotify.com/playlist/x") and not is_open_spotify_url("javascript:x")
