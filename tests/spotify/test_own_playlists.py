"""The listener's own playlists through the real spotipy and the fake: list (paged, bounded), read
(``item`` entries, local files and episodes skipped with a count), append (chunks of 100)."""

from __future__ import annotations

import pytest
import requests

from spotify.client import make_client
from spotify.errors import SpotifyRefused
from spotify.own_playlists import append_tracks, list_playlists, read_playlist
from tests.fake_spotify import FakeSpotify
from tests.fake_spotify.seed import SeedPlaylist, spotify_id


def client_for(fake: FakeSpotify, user: str, scope: str | None = None):
    params = {"user": user, **({"scope": scope} if scope else {})}
    token = requests.get(f"{fake.base_url}/_test/token", params=params, timeout=5).json()
    return make_client(access_token=token["access_token"], api_base=fake.api_base)


def add_playlist(fake: FakeSpotify, owner: str, name: str, uris: list[str], **kwargs) -> SeedPlaylist:
    """Plant a playlist in the fake (what the listener made in Spotify's own app)."""
    pl = SeedPlaylist(spotify_id(f"pl:{owner}:{name}"), owner, name, **kwargs)
    pl.items = [(u, "2026-01-02T03:04:05Z", owner) for u in uris]
    with fake.lock:
        fake.seed.playlists[pl.id] = pl
    return pl


def track_uris(n: int, tag: str) -> list[str]:
    return [f"spotify:track:{spotify_id(f'{tag}:{i}')}" for i in range(n)]


def test_lists_owned_and_collaborative_playlists_not_followed_ones(fake: FakeSpotify) -> None:
    road = fake.playlists_of("alice")[0]
    classics = fake.playlists_of("bob")[0]  # public: alice follows it
    with fake.lock:
        fake.seed.playlists[classics.id].followers.add("alice")
    shared = add_playlist(fake, "bob", "Shared", track_uris(3, "s"), collaborative=True)
    with fake.lock:
        fake.seed.playlists[shared.id].followers.add("alice")

    found = list_playlists(client_for(fake, "alice"))

    listed = [r for r in fake.requests_to("/v1/me/playlists", "GET")]
    assert len(listed) == 1 and listed[0].query["limit"] == ["50"]
    assert {p.id for p in found} == {road.id, shared.id}  # bob's classics: followed, not alice's
    mine = next(p for p in found if p.id == road.id)
    assert mine.owned and mine.n_items == len(road.items) == 12 and mine.public is False
    assert mine.url == f"https://open.spotify.com/playlist/{road.id}" and mine.label == "Road trip · 12 songs"
    assert not next(p for p in found if p.id == shared.id).owned


def test_listing_follows_pages_and_stops_at_the_bound(fake: FakeSpotify) -> None:
    sp = client_for(fake, "alice")
    made = [sp.current_user_playlist_create(f"List {i}", public=False)["id"] for i in range(119)]
    fake.clear_requests()

    every = list_playlists(sp)
    assert len(every) == 120 and [p.id for p in every[:119]] == made[::-1]  # newest first, then Road trip
    assert [r.query["offset"] for r in fake.requests_to("/v1/me/playlists", "GET")] == [["0"], ["50"], ["100"]]

    fake.clear_requests()
    bounded = list_playlists(sp, max_items=60)
    assert len(bounded) == 60 and len(fake.requests_to("/v1/me/playlists", "GET")) == 2


def test_private_playlists_need_the_read_private_scope(fake: FakeSpotify) -> None:
    without = client_for(fake, "alice", scope="user-read-private playlist-modify-private")
    assert list_playlists(without) == []  # Road trip is private
    assert [p.name for p in list_playlists(client_for(fake, "alice"))] == ["Road trip"]


def test_reading_keeps_the_order_and_counts_what_it_skips(fake: FakeSpotify) -> None:
    road = fake.playlists_of("alice")[0]
    uris = [u for u, _, _ in road.items]
    episode = f"spotify:episode:{spotify_id('ep:1')}"
    mixed = add_playlist(fake, "alice", "Mixed", uris[:3] + [episode] + uris[3:])

    contents = read_playlist(client_for(fake, "alice"), mixed.id)

    tracks = [u for u in uris if u.startswith("spotify:track:")]
    assert [f"spotify:track:{t.track_id}" for t in contents.tracks] == tracks
    assert (contents.skipped_local, contents.skipped_episodes, contents.skipped_unreadable) == (1, 1, 0)
    assert contents.total == 13 and not contents.truncated
    assert contents.skipped_sentence() == "Left out: 1 local file, 1 podcast episode."
    assert all(t.title and t.artists for t in contents.tracks)
    (request,) = fake.requests_to(f"/v1/playlists/{mixed.id}/items", "GET")
    assert request.query["additional_types"] == ["track,episode"]


@pytest.mark.parametrize("dev_mode", [True, False])
def test_reading_pages_through_a_long_playlist_up_to_the_bound(dev_mode: bool) -> None:
    with FakeSpotify(catalogue=None, dev_mode=dev_mode) as fake:
        uris = track_uris(120, "long")
        long = add_playlist(fake, "alice", "Long", uris)
        sp = client_for(fake, "alice")

        whole = read_playlist(sp, long.id)
        assert [f"spotify:track:{t.track_id}" for t in whole.tracks] == uris  # 'item' (dev mode) or 'track'
        assert len(fake.requests_to(f"/v1/playlists/{long.id}/items", "GET")) == 3

        part = read_playlist(sp, long.id, max_items=100)
        assert len(part.tracks) == 100 and part.truncated and part.total == 120
        assert part.skipped_sentence() == "Only the first 100 of 120 entries were read."


def test_appending_sends_chunks_of_100_in_order_at_the_end(fake: FakeSpotify) -> None:
    road = fake.playlists_of("alice")[0]
    before = [u for u, _, _ in road.items]
    new = track_uris(130, "new")
    fake.clear_requests()

    snapshot = append_tracks(client_for(fake, "alice"), road.id, [u.rsplit(":", 1)[1] for u in new])

    posts = fake.requests_to(f"/v1/playlists/{road.id}/items", "POST")
    assert [r.json for r in posts] == [new[:100], new[100:]] and all(r.status == 201 for r in posts)
    assert [u for u, _, _ in fake.playlist(road.id).items] == before + new
    assert snapshot and snapshot.endswith("AAAA")


def test_appending_to_someone_elses_playlist_is_refused_with_a_sentence(fake: FakeSpotify) -> None:
    classics = fake.playlists_of("bob")[0]
    with pytest.raises(SpotifyRefused) as refused:
        append_tracks(client_for(fake, "alice"), classics.id, track_uris(2, "x"))
    assert refused.value.status == 403 and "only playlists you own or collaborate on" in str(refused.value)
    assert fake.playlist(classics.id).items == classics.items


def test_a_failure_after_the_first_chunk_says_how_many_were_added(fake: FakeSpotify) -> None:
    road = fake.playlists_of("alice")[0]
    before = [u for u, _, _ in road.items]
    sp = client_for(fake, "alice")
    original = sp.playlist_add_items
    path = f"/v1/playlists/{road.id}/items"

    def second_chunk_fails(pid, items, position=None):
        if fake.requests_to(path, "POST"):  # one chunk is in: Spotify fails the next one
            fake.fail_next(1, 404, path_prefix=path)
        return original(pid, items, position=position)

    sp.playlist_add_items = second_chunk_fails
    fake.clear_requests()
    new = track_uris(150, "z")
    with pytest.raises(SpotifyRefused) as partial:
        append_tracks(sp, road.id, new)
    assert "(HTTP 404)" in str(partial.value) and "100 of the 150 songs were added before that" in str(partial.value)
    assert [u for u, _, _ in fake.playlist(road.id).items] == before + new[:100]
