"""History from the fake's seeded listeners: every page collected, weights as documented, odd fields read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import requests

from spotify.client import make_client
from spotify.history import (
    RANGE_WEIGHT,
    SAVED_WEIGHT,
    fetch_history,
    fetch_recently_played,
    fetch_saved_tracks,
    fetch_top_tracks,
    track_info,
)
from tests.fake_spotify import FakeSpotify


def client_for(fake: FakeSpotify, user: str, scope: str | None = None):
    params = {"user": user, **({"scope": scope} if scope else {})}
    token = requests.get(f"{fake.base_url}/_test/token", params=params, timeout=5).json()["access_token"]
    return make_client(access_token=token, api_base=fake.api_base)


def test_paging_collects_every_item(fake: FakeSpotify) -> None:
    sp = client_for(fake, "alice")
    alice = fake.seed.users["alice"]

    for time_range, ids in alice.top.items():
        assert [t["id"] for t in fetch_top_tracks(sp, time_range, page_size=20)] == ids
    recent = fetch_recently_played(sp, page_size=20)
    assert [e["track"]["id"] for e in recent] == [p.track_id for p in alice.recent]
    saved = fetch_saved_tracks(sp, page_size=50)
    assert [e["track"]["id"] for e in saved] == [t for t, _ in alice.saved]

    # 99 long-term tracks in pages of 20 -> 5 requests; 50 plays by cursor -> 3; 220 saved -> 5.
    assert len(fake.requests_to("/v1/me/top/tracks")) == 2 + 3 + 5
    cursor_calls = fake.requests_to("/v1/me/player/recently-played")
    assert len(cursor_calls) == 3
    assert "before" not in cursor_calls[0].query and all("before" in r.query for r in cursor_calls[1:])
    assert len(fake.requests_to("/v1/me/tracks")) == 5


def test_fetch_history_merges_sources_with_documented_weights(fake: FakeSpotify) -> None:
    alice = fake.seed.users["alice"]
    newest_play = datetime.fromtimestamp(alice.recent[0].played_at_ms / 1000, tz=UTC)
    history = fetch_history(client_for(fake, "alice"), now=newest_play)

    assert history.origin == "spotify_api"
    assert {i.track_id for i in history} == alice.history_track_ids()
    assert history.counts == {"top_short_term": 25, "top_medium_term": 60, "top_long_term": 99,
                              "recent": 50, "saved": 220}
    weights = [i.weight for i in history]
    assert weights == sorted(weights, reverse=True) and min(weights) > 0
    by_id = {i.track_id: i for i in history}

    # A track only in the saved list weighs exactly SAVED_WEIGHT.
    saved_only = next(i for i in history if i.sources == ("saved",))
    assert saved_only.weight == SAVED_WEIGHT
    # The top short-term track gets the full short-term weight plus whatever else it earned.
    top_short = by_id[alice.top["short_term"][0]]
    assert "top_short_term" in top_short.sources and top_short.weight >= RANGE_WEIGHT["short_term"]
    # Plays are counted, and the newest one carries its timestamp.
    played = by_id[alice.recent[0].track_id]
    assert played.plays == sum(p.track_id == played.track_id for p in alice.recent)
    assert played.last_played == newest_play


def test_recent_plays_keep_their_times_and_weights(fake: FakeSpotify) -> None:
    """Each recently played entry is one timed part of the weight; top/saved parts are untimed."""
    alice = fake.seed.users["alice"]
    newest = datetime.fromtimestamp(alice.recent[0].played_at_ms / 1000, tz=UTC)
    by_id = {i.track_id: i for i in fetch_history(client_for(fake, "alice"), now=newest)}
    for track_id in {p.track_id for p in alice.recent}:
        item = by_id[track_id]
        expected = sorted(p.played_at_ms / 1000 for p in alice.recent if p.track_id == track_id)
        assert sorted(item.play_times) == pytest.approx(expected)
        assert len(item.play_weights) == len(item.play_times) == item.plays
        assert all(0 < w <= 1 for w in item.play_weights)
        assert sum(item.play_weights) <= item.weight + 1e-6
    saved_only = next(i for i in by_id.values() if i.sources == ("saved",))
    assert saved_only.play_times == () and saved_only.play_weights == ()


def test_recent_plays_decay_with_age(fake: FakeSpotify) -> None:
    alice = fake.seed.users["alice"]
    sp = client_for(fake, "alice", scope="user-read-recently-played")
    newest = datetime.fromtimestamp(alice.recent[0].played_at_ms / 1000, tz=UTC)
    fresh = fetch_history(sp, now=newest)
    later = fetch_history(sp, now=newest + timedelta(days=14))
    assert later.total_weight == pytest.approx(fresh.total_weight / 2, rel=1e-6)


def test_missing_scope_becomes_a_warning_not_a_failure(fake: FakeSpotify) -> None:
    sp = client_for(fake, "alice", scope="user-library-read")
    history = fetch_history(sp)
    assert history.counts["saved"] == 220 and history.counts["recent"] == 0
    assert any("top tracks" in w for w in history.warnings)
    assert any("recently played" in w for w in history.warnings)
    assert len(history.warnings) == 2


def test_empty_account_gives_an_empty_history(fake: FakeSpotify) -> None:
    history = fetch_history(client_for(fake, "carol"))
    assert len(history) == 0 and history.total_weight == 0 and history.warnings == ()


def test_dev_mode_fields_are_absent_and_read_with_defaults(fake: FakeSpotify) -> None:
    raw = client_for(fake, "alice").current_user_top_tracks(limit=50, time_range="long_term")["items"]
    assert all(t.get("popularity") is None and "available_markets" not in t for t in raw)
    assert any("popularity" in t for t in raw) and any("popularity" not in t for t in raw)
    assert any(t["preview_url"] is None for t in raw) and any(t["preview_url"] for t in raw)
    infos = [track_info(t) for t in raw]
    assert all(i is not None and i.popularity is None and i.image_url for i in infos)


def test_playlist_entries_with_item_local_files_and_episodes() -> None:
    track = {"type": "track", "id": "4iV5W9uYEdYUVa79Axb7Rh", "name": "Song", "is_local": False,
             "artists": [{"id": "a" * 22, "name": "Band"}, {"id": None, "name": None}],
             "album": {"name": "LP", "images": None}}
    local = {"type": "track", "id": None, "name": "Demo Tape", "is_local": True,
             "artists": [{"id": None, "name": "Garage"}], "album": None, "popularity": 0}
    info = track_info(track)
    assert info is not None and info.artists == ("Band",) and info.popularity is None and info.image_url is None
    local_info = track_info(local)
    assert local_info is not None and local_info.track_id is None and local_info.key.startswith("name:")
    assert track_info({"type": "episode", "id": "x", "name": "Ep"}) is None
    assert track_info(None) is None and track_info({"type": "track", "name": "", "artists": []}) is None
