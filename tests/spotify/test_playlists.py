"""Saving playlists through the real spotipy into the fake; CSV export."""

from __future__ import annotations

import csv
import io

import pytest
import requests

from spotify.client import make_client
from spotify.playlists import find_playlist, save_playlist, track_uri, tracks_to_csv
from tests.fake_spotify import FakeSpotify
from tests.fake_spotify.seed import spotify_id


def client_for(fake: FakeSpotify, user: str):
    token = requests.get(f"{fake.base_url}/_test/token", params={"user": user}, timeout=5).json()
    return make_client(access_token=token["access_token"], api_base=fake.api_base)


def ids(n: int, tag: str = "t") -> list[str]:
    return [spotify_id(f"{tag}:{i}") for i in range(n)]


def test_250_tracks_arrive_complete_and_in_order_in_3_item_requests(fake: FakeSpotify) -> None:
    sp = client_for(fake, "alice")
    tracks = ids(250)

    saved = save_playlist(sp, tracks, name="For you", description="Made by the recommender")

    assert saved.created and saved.n_tracks == 250
    assert saved.url == f"https://open.spotify.com/playlist/{saved.id}"
    create = fake.requests_to("/v1/me/playlists", "POST")
    assert len(create) == 1 and create[0].json == {"name": "For you", "public": False,
                                                   "collaborative": False, "description": "Made by the recommender"}
    posts = fake.requests_to(f"/v1/playlists/{saved.id}/items", "POST")
    assert [len(r.json) for r in posts] == [100, 100, 50]
    assert [u for r in posts for u in r.json] == [f"spotify:track:{t}" for t in tracks]
    assert all(r.status == 201 and r.user == "alice" for r in posts)
    assert [u for u, _, _ in fake.playlist(saved.id).items] == [f"spotify:track:{t}" for t in tracks]
    # Read back through the API: entries carry ``item`` (2026), not the deprecated ``track``.
    page = sp.playlist_items(saved.id, limit=50)
    assert page["total"] == 250 and "track" not in page["items"][0]
    assert page["items"][0]["item"]["id"] == tracks[0]


def test_resaving_replaces_the_items(fake: FakeSpotify) -> None:
    sp = client_for(fake, "alice")
    first = save_playlist(sp, ids(150, "a"), name="Weekly")
    fake.clear_requests()
    second_tracks = ids(120, "b")

    again = save_playlist(sp, second_tracks, name="Weekly", playlist_id=first.id)

    assert again.id == first.id and not again.created
    assert [u for u, _, _ in fake.playlist(first.id).items] == [f"spotify:track:{t}" for t in second_tracks]
    puts = fake.requests_to(f"/v1/playlists/{first.id}/items", "PUT")
    posts = fake.requests_to(f"/v1/playlists/{first.id}/items", "POST")
    assert [len(r.json["uris"]) for r in puts] == [100] and [len(r.json) for r in posts] == [20]
    assert fake.requests_to("/v1/me/playlists", "POST") == []
    assert find_playlist(sp, "Weekly") == first.id
    # Saving an empty list clears it.
    save_playlist(sp, [], name="Weekly", playlist_id=first.id)
    assert fake.playlist(first.id).items == []


def test_resaving_to_someone_elses_or_a_deleted_playlist_creates_a_new_one(fake: FakeSpotify) -> None:
    bobs = fake.playlists_of("bob")[0]
    sp = client_for(fake, "alice")
    saved = save_playlist(sp, ids(3), name="Mine", playlist_id=bobs.id)
    assert saved.created and saved.id != bobs.id
    assert fake.playlist(bobs.id).items == bobs.items  # untouched
    gone = save_playlist(sp, ids(3), name="Mine", playlist_id=spotify_id("never-existed"))
    assert gone.created


def test_fake_refuses_more_than_100_uris_per_request(fake: FakeSpotify) -> None:
    sp = client_for(fake, "alice")
    playlist = sp.current_user_playlist_create("raw", public=False)
    from spotify.errors import SpotifyRefused

    with pytest.raises(SpotifyRefused) as info:
        sp.playlist_add_items(playlist["id"], ids(101))
    assert info.value.status == 400


def test_track_uri_accepts_ids_uris_and_urls_and_names_bad_values() -> None:
    tid = "4iV5W9uYEdYUVa79Axb7Rh"
    assert track_uri(tid) == track_uri(f"spotify:track:{tid}") == f"spotify:track:{tid}"
    assert track_uri(f"https://open.spotify.com/track/{tid}?si=abc") == f"spotify:track:{tid}"
    with pytest.raises(ValueError, match="'nope'"):
        track_uri("nope")


def test_tracks_to_csv_keeps_order_and_defuses_formulas() -> None:
    class Rec:
        track_id = "4iV5W9uYEdYUVa79Axb7Rh"
        title = "=HYPERLINK(\"x\")"
        artists = ("A, with comma", "B")

    text = tracks_to_csv([Rec(), {"track_id": "bad", "name": "Plain", "artist": "Solo"}])
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["position", "track_id", "title", "artists", "spotify_url"]
    assert rows[1] == ["1", "4iV5W9uYEdYUVa79Axb7Rh", "'=HYPERLINK(\"x\")", "A, with comma, B",
                       "https://open.spotify.com/track/4iV5W9uYEdYUVa79Axb7Rh"]
    assert rows[2] == ["2", "bad", "Plain", "Solo", ""]
