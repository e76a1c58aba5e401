"""The fake Spotify's own contract: tokens, scopes, limits, cursors, per-user data, standalone mode."""

from __future__ import annotations

import csv
import gzip
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

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
