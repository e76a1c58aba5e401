"""The mixes section's words, tables and saving rules (webapp.mixes, webapp.cards; no Streamlit)."""

from __future__ import annotations

import csv
import dataclasses
import io
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.serving.listening import Listening
from engine.serving.mixes import Mix, build_mixes
from engine.serving.options import Options
from engine.serving.recommender import Recommender
from spotify.playlists import tracks_to_csv
from tests.factories import published_recommender, random_bundle_parts
from webapp.cards import mix_list_html
from webapp.mixes import (
    MAX_PLAYLIST_NAME,
    is_mix_playlist,
    mix_caption,
    mix_frame,
    mix_key,
    mix_request,
    mix_title,
    not_mixes,
    playlist_name,
    playlists_to_update,
)


@pytest.fixture(scope="module")
def rec(tmp_path_factory: pytest.TempPathFactory) -> Recommender:
    tmp: Path = tmp_path_factory.mktemp("mix-webapp")
    return published_recommender(tmp, random_bundle_parts(n_items=300, seed=1))


@pytest.fixture(scope="module")
def mix(rec: Recommender) -> Mix:
    history = {f"{i:022d}": 2.0 for i in range(0, 60, 3)}  # cluster 0 (i % 3 == 0)
    (only,) = build_mixes(rec, history)
    return only


@dataclass(frozen=True)
class Record:
    name: str


def test_a_mix_is_saved_under_its_own_name_and_never_over_another_list() -> None:
    records = [Record("Taste mix · Loud · rock"), Record("Recommended for you"), Record("Taste mix · Quiet · folk")]
    assert playlists_to_update(records, name="Taste mix · Quiet · folk", mix=True) == [records[2]]
    assert playlists_to_update(records, name="Taste mix · New · jazz", mix=True) == []
    assert playlists_to_update(records, name="anything", mix=False) == [records[1]] == not_mixes(records)
    assert is_mix_playlist("Taste mix · x") and not is_mix_playlist("My taste mix")


def test_the_playlist_name_keeps_the_prefix_within_spotifys_length(mix: Mix) -> None:
    assert playlist_name(mix) == "Taste mix · " + mix.name
    long = dataclasses.replace(mix, plan=dataclasses.replace(mix.plan, name="x" * 200))
    assert len(playlist_name(long)) == MAX_PLAYLIST_NAME and playlist_name(long).endswith("…")
    assert is_mix_playlist(playlist_name(long))


def test_mixes_follow_the_taste_not_the_sidebar_tuning() -> None:
    page = Options(k=35, year_range=(1990, 2000), energy_range=(0.2, 0.4), clusters=[3], novelty=0.5,
                   explicit=False, exclude_ids=["t1"], exclude_artists=["a1"], discovery=0.9)
    out = mix_request(page)
    assert (out.year_range, out.energy_range, out.clusters, out.novelty) == (None, None, None, 0.0)
    assert (out.explicit, out.exclude_ids, out.exclude_artists) == (False, ("t1",), ("a1",))


def test_the_request_key_changes_with_the_taste_only() -> None:
    history = Listening(tracks={"t1": 2.0, "t2": 1.0}, artists={"a9": 4.0})
    same = Listening(tracks={"t2": 1.0, "t1": 2.0}, artists={"a9": 4.0})
    assert mix_key("v1", history, Options()) == mix_key("v1", same, Options())
    assert mix_key("v1", history, Options()) != mix_key("v2", history, Options())
    assert mix_key("v1", history, Options()) != mix_key("v1", Listening(tracks={"t1": 2.0}, artists=history.artists), Options())
    assert mix_key("v1", history, Options()) != mix_key("v1", history, Options(exclude_ids=["t3"]))
    assert mix_key("v1", history, Options()) != mix_key("v1", Listening(tracks=history.tracks), Options())


def test_title_caption_and_csv_say_what_the_mix_is(rec: Recommender, mix: Mix) -> None:
    assert mix_title(mix) == f"{mix.name} — 100% of your listening"
    assert mix_caption(mix).startswith(f"{len(mix)} songs · from 20 of your songs and artists in this sound · ")
    assert f"{mix.stats.share_new:.0%} new artists" in mix_caption(mix)
    frame = mix_frame(rec, mix)
    assert frame["track_id"].tolist() == list(mix.tracks.track_ids) and frame["new"].tolist() == list(mix.new)
    rows = list(csv.DictReader(io.StringIO(tracks_to_csv(frame.to_dict("records")))))
    assert [r["track_id"] for r in rows] == list(mix.tracks.track_ids)
    assert [r["position"] for r in rows] == [str(i) for i in range(1, len(mix) + 1)]


def test_compact_cards_escape_everything_and_mark_new_artists() -> None:
    rows = [
        {"track_id": "4uLU6hMCjMI75M1A2tKUQC", "name": "<script>x</script>", "artists": ["A & B"], "year": 1999,
         "reasons": [], "new": True},
        {"track_id": "not-a-spotify-id", "name": "Plain", "artists": ["C"], "year": 0, "new": False,
         "reasons": [("your_artist", "<b>C</b>")]},
    ]
    out = mix_list_html(rows, verb="played")
    assert "<script>x" not in out and "&lt;script&gt;x&lt;/script&gt;" in out and "A &amp; B · 1999" in out
    assert out.count('class="mix-new"') == 1
    assert 'href="https://open.spotify.com/track/4uLU6hMCjMI75M1A2tKUQC"' in out and "not-a-spotify-id" not in out
    assert "More from &lt;b&gt;C&lt;/b&gt;, whom you played" in out
    assert 'class="rec-title"' not in out  # the recommendation cards' class: counted elsewhere as cards
