"""The fake Spotify's own contract: tokens, scopes, limits, cursors, per-user data, standalone mode."""

from __future__ import annotations

import ast
import csv
import gzip
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from spotify.auth import SCOPES
from spotify.client import make_client
from tests.fake_spotify import FakeSpotify
from tests.fake_spotify.seed import build_seed, load_catalogue
from tests.spotify.conftest import CLIENT_ID

ROOT = Path(__file__).resolve().parents[2]


def token(fake: FakeSpotify, user: str = "alice", scope: str | None = None) -> str:
    params = {"user": user, **({"scope": scope} if scope else {})}
    return requests.get(f"{fake.base_url}/_test/token", params=params, timeout=5).json()["access_token"]


def get(fake: FakeSpotify, path: str, tok: str | None, **params: object) -> requests.Response:
    headers = {"Authorization": f"Bearer {tok}"} if tok else {}
    return requests.get(f"{fake.base_url}/v1/{path}", params=params, headers=headers, timeout=5)


def test_bearer_tokens_are_checked(fake: FakeSpotify) -> None:
    assert get(fake, "me", None).json() == {"error": {"status": 401, "message": "No token provided"}}
    assert get(fake, "me", "made-up").status_code == 401
    basic = requests.get(f"{fake.base_url}/v1/me", headers={"Authorization": "Basic abc"}, timeout=5)
    assert basic.status_code == 400
    tok = token(fake)
    assert get(fake, "me", tok).json()["id"] == "alice"
    fake.expire_access_tokens()
    assert get(fake, "me", tok).json()["error"]["message"] == "The access token expired"


def test_scopes_are_enforced(fake: FakeSpotify) -> None:
    tok = token(fake, scope="playlist-modify-private")
    assert get(fake, "me/top/tracks", tok).json()["error"] == {"status": 403, "message": "Insufficient client scope"}
    headers = {"Authorization": f"Bearer {tok}"}
    public = requests.post(f"{fake.base_url}/v1/me/playlists", json={"name": "x", "public": True},
                           headers=headers, timeout=5)
    private = requests.post(f"{fake.base_url}/v1/me/playlists", json={"name": "x", "public": False},
                            headers=headers, timeout=5)
    assert (public.status_code, private.status_code) == (403, 201)
    assert private.json()["items"]["total"] == 0 and private.json()["owner"]["id"] == "alice"


def test_search_limit_rule_and_filters(fake: FakeSpotify) -> None:
    tok = token(fake)
    some = next(iter(fake.seed.tracks.values()))
    artist = some.artist_names[0]
    found = get(fake, "search", tok, q=f'artist:"{artist}"', type="track", limit=10).json()["tracks"]
    assert found["items"] and all(artist in [a["name"] for a in t["artists"]] for t in found["items"])
    assert get(fake, "search", tok, q="x", type="track", limit=11).json()["error"]["message"] == "Invalid limit"
    assert get(fake, "search", tok, q="x", type="track").json()["tracks"]["limit"] == 5


def test_recently_played_cursors_both_ways(fake: FakeSpotify) -> None:
    tok = token(fake)
    plays = [p.played_at_ms for p in fake.seed.users["alice"].recent]
    first = get(fake, "me/player/recently-played", tok, limit=10).json()
    assert first["cursors"] == {"after": str(plays[0]), "before": str(plays[9])}
    assert "before=" in first["next"] and first["next"].startswith(fake.base_url)
    newer = get(fake, "me/player/recently-played", tok, limit=5, after=plays[20]).json()
    recent = fake.seed.users["alice"].recent
    # The five plays right after the cursor, newest first.
    assert [p["track"]["id"] for p in newer["items"]] == [p.track_id for p in recent[15:20]]
    assert newer["cursors"] == {"after": str(plays[15]), "before": str(plays[19])}
    both = get(fake, "me/player/recently-played", tok, after=1, before=2)
    assert both.status_code == 400
    last = get(fake, "me/player/recently-played", tok, limit=10, before=plays[-1]).json()
    assert last["items"] == [] and last["next"] is None and last["cursors"] is None


def test_each_user_sees_only_their_own_playlists(fake: FakeSpotify) -> None:
    alice_pl = fake.playlists_of("alice")[0]
    bob_tok = token(fake, "bob")
    mine = get(fake, "me/playlists", bob_tok).json()
    assert {p["owner"]["id"] for p in mine["items"]} == {"bob"}
    assert get(fake, f"playlists/{alice_pl.id}", bob_tok).status_code == 404
    alice_view = get(fake, f"playlists/{alice_pl.id}", token(fake, "alice")).json()
    entries = alice_view["items"]["items"]
    assert any(e["is_local"] and e["item"]["id"] is None for e in entries)


def test_authorize_checks_client_and_redirect_uri(fake: FakeSpotify) -> None:
    base = {"client_id": CLIENT_ID, "response_type": "code", "state": "s"}
    unknown = requests.get(f"{fake.base_url}/authorize", params={**base, "client_id": "nope",
                                                                  "redirect_uri": "http://127.0.0.1:8501/"}, timeout=5)
    assert unknown.status_code == 400 and "INVALID_CLIENT" in unknown.text
    localhost = requests.get(f"{fake.base_url}/authorize",
                             params={**base, "redirect_uri": "http://localhost:8501/"}, timeout=5)
    assert localhost.status_code == 400
    fake.auto_approve = "carol"
    back = requests.get(f"{fake.base_url}/authorize", params={**base, "redirect_uri": "http://127.0.0.1:8501/"},
                        allow_redirects=False, timeout=5)
    assert back.status_code == 302 and "code=" in back.headers["Location"] and "state=s" in back.headers["Location"]


def test_full_fields_mode_has_popularity_and_track_key() -> None:
    with FakeSpotify(catalogue=None, dev_mode=False) as fake:
        tok = token(fake)
        top = get(fake, "me/top/tracks", tok, limit=3).json()["items"]
        assert all(isinstance(t["popularity"], int) and t["available_markets"] for t in top)
        pl = fake.playlists_of("alice")[0]
        entry = get(fake, f"playlists/{pl.id}/items", tok, limit=1).json()["items"][0]
        assert entry["track"] == entry["item"]
        assert "email" in get(fake, "me", tok).json()


def test_catalogue_csv_is_read_with_kaggle_quirks() -> None:
    tracks = load_catalogue(ROOT / "tests" / "data" / "spotify" / "tracks_kaggle_sample.csv")
    by_id = {t.id: t for t in tracks}
    assert len(tracks) == 3  # the row with a bad id is skipped
    quoted = by_id["0RNxWy0PC3AyH4ThH3aGK6"]
    assert quoted.artist_names == ("Mamie Smith", "Harold's \"Band\", Jr.")
    assert by_id["1BuS4jRQA0eVsQvqaXyLxH"].release_date == "1928-03-05"  # was 05-03-1928


def test_seed_uses_real_catalogue_ids_when_available(shared_data: Path) -> None:
    seed = build_seed(catalogue=shared_data / "tracks_sample10k.csv.gz", now_ms=1_780_000_000_000)
    with gzip.open(shared_data / "tracks_sample10k.csv.gz", "rt", encoding="utf-8") as handle:
        catalogue = {row["id"] for row in csv.DictReader(handle)}
    alice = seed.users["alice"].history_track_ids()
    assert len(alice) >= 200
    in_catalogue = alice & catalogue
    assert len(in_catalogue) / len(alice) > 0.8
    newer = [seed.tracks[t] for t in alice - catalogue]
    assert newer and all(t.release_date.startswith("2025") for t in newer)


def test_standalone_server_serves_a_seeded_account() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "tests.fake_spotify", "--port", "0", "--catalogue", "generated"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        first = proc.stdout.readline() if proc.stdout else ""
        assert first.startswith("Fake Spotify on http://127.0.0.1:"), first + (proc.stderr.read() if proc.poll() else "")
        base = first.split()[3]
        tok = requests.get(f"{base}/_test/token", params={"user": "alice"}, timeout=5).json()["access_token"]
        me = requests.get(f"{base}/v1/me", headers={"Authorization": f"Bearer {tok}"}, timeout=5).json()
        assert me["id"] == "alice"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0


@pytest.mark.parametrize("path", ["/_test/image/abc.svg", "/_test/preview/x.wav"])
def test_media_helpers_serve_something_playable(fake: FakeSpotify, path: str) -> None:
    resp = requests.get(fake.base_url + path, timeout=5)
    assert resp.status_code == 200 and resp.headers["Content-Type"].split("/")[0] in ("image", "audio")


PAGING = {"href", "items", "limit", "next", "offset", "previous", "total"}
ARTIST = {"external_urls", "href", "id", "images", "name", "type", "uri"}


def _spotipy_calls_in_app_code() -> set[str]:
    """Every ``sp.<method>(...)`` / ``_sp.<method>(...)`` the app's code makes (spotify/, webapp/, pages/)."""
    names = set()
    for folder in ("spotify", "webapp", "pages"):
        for path in (ROOT / folder).glob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                        and isinstance(node.func.value, ast.Name) and node.func.value.id in ("sp", "_sp")):
                    names.add(node.func.attr)
    return names


def test_every_spotipy_call_of_the_app_is_served_with_spotipys_own_defaults(fake: FakeSpotify) -> None:
    sp = make_client(access_token=token(fake, scope=" ".join(SCOPES)), api_base=fake.api_base, max_total_wait=0)
    own = fake.playlists_of("alice")[0]
    top = fake.seed.users["alice"].top["medium_term"]
    created: dict = {}
    checks = {  # spotipy method -> (call with spotipy's defaults, what Spotify's docs say comes back)
        "me": (sp.me, lambda r: r["id"] == "alice" and r["type"] == "user"),
        "current_user_top_tracks": (sp.current_user_top_tracks,
                                    lambda r: PAGING <= set(r) and [t["id"] for t in r["items"]] == top[:20]),
        "current_user_top_artists": (sp.current_user_top_artists,
                                     lambda r: PAGING <= set(r) and r["items"]
                                     and all(set(a) == ARTIST and a["type"] == "artist" for a in r["items"])),
        "current_user_recently_played": (sp.current_user_recently_played,
                                         lambda r: {"items", "next", "cursors", "limit", "href"} <= set(r)
                                         and r["items"][0]["played_at"].endswith("Z")),
        "current_user_saved_tracks": (sp.current_user_saved_tracks,
                                      lambda r: PAGING <= set(r) and {"added_at", "track"} <= set(r["items"][0])),
        "track": (lambda: sp.track(top[0]), lambda r: r["id"] == top[0] and r["type"] == "track"),
        "search": (lambda: sp.search("a"), lambda r: PAGING <= set(r["tracks"])),
        "current_user_playlists": (sp.current_user_playlists,
                                   lambda r: PAGING <= set(r) and r["items"][0]["items"]["total"] >= 1),
        "playlist": (lambda: sp.playlist(own.id), lambda r: r["id"] == own.id and PAGING <= set(r["items"])),
        "playlist_items": (lambda: sp.playlist_items(own.id),
                           lambda r: PAGING <= set(r) and {"added_at", "added_by", "is_local", "item"} <= set(r["items"][0])),
        "current_user_playlist_create": (lambda: created.update(sp.current_user_playlist_create("Mix")) or created,
                                         lambda r: r["owner"]["id"] == "alice" and r["public"] is True),
        "playlist_add_items": (lambda: sp.playlist_add_items(created["id"], top[:3]), lambda r: r["snapshot_id"]),
        "playlist_replace_items": (lambda: sp.playlist_replace_items(created["id"], top[3:5]),
                                   lambda r: r["snapshot_id"]),
        "next": (lambda: sp.next(sp.current_user_saved_tracks(limit=5)), lambda r: r["offset"] == 5),
    }
    assert _spotipy_calls_in_app_code() <= set(checks)  # a new call in the app needs a line here
    for name, (call, shape) in checks.items():
        fake.clear_requests()
        answer = call()
        assert all(r.status < 300 for r in fake.requests), (name, [(r.url, r.status) for r in fake.requests])
        assert shape(answer), name
    assert [u for u, _, _ in fake.playlist(created["id"]).items] == [f"spotify:track:{t}" for t in top[3:5]]
    sp.playlist_items(own.id)
    (sent,) = fake.requests_to(f"/v1/playlists/{own.id}/items")
    assert sent.query["additional_types"] == ["track,episode"]  # spotipy's own default reached the fake


def test_playlist_fields_filter_returns_only_what_was_asked(fake: FakeSpotify) -> None:
    tok = token(fake)
    own = fake.playlists_of("alice")[0]
    fields = "id,name,owner(id),external_urls,snapshot_id"  # what spotify.playlists asks
    body = get(fake, f"playlists/{own.id}", tok, fields=fields).json()
    assert set(body) == {"id", "name", "owner", "external_urls", "snapshot_id"} and body["owner"] == {"id": "alice"}
    page = get(fake, f"playlists/{own.id}/items", tok, fields="total,items(added_at,item(name,album(!images)))").json()
    assert set(page) == {"total", "items"} and set(page["items"][0]) == {"added_at", "item"}
    assert set(page["items"][0]["item"]) == {"name", "album"} and "images" not in page["items"][0]["item"]["album"]
    assert "name" in page["items"][0]["item"]["album"]
    bad = get(fake, f"playlists/{own.id}", tok, fields="owner(id")
    assert bad.status_code == 400 and bad.json()["error"]["message"] == "Invalid fields"


def test_top_artists_follow_the_top_tracks_and_dev_mode(fake: FakeSpotify) -> None:
    tok = token(fake)
    user = fake.seed.users["alice"]
    first = get(fake, "me/top/artists", tok, time_range="long_term", limit=50).json()
    artist_ids = {a for tid in user.top["long_term"] for a in fake.seed.tracks[tid].artist_ids}
    assert {a["id"] for a in first["items"]} <= artist_ids and first["total"] == len(artist_ids)
    assert all("genres" not in a and "popularity" not in a for a in first["items"])
    assert get(fake, "me/top/artists", tok, time_range="forever").status_code == 400
    assert get(fake, "me/top/artists", token(fake, scope="user-library-read")).status_code == 403
    with FakeSpotify(catalogue=None, dev_mode=False) as full:
        artist = get(full, "me/top/artists", token(full), limit=1).json()["items"][0]
        assert isinstance(artist["popularity"], int) and artist["genres"] == [] and artist["followers"]["total"]
