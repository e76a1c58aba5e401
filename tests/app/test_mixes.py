"""The Recommendations page's "Mixes by taste" (real Streamlit AppTest; real spotipy against the
fake Spotify for saving). Each mix on the page is checked against ``engine.serving.mixes``
computed here from the same bundle and history."""

from __future__ import annotations

import re

import pytest
from streamlit.runtime.memory_media_file_storage import _calculate_file_id
from streamlit.testing.v1 import AppTest

from engine.bundle.load import load_current
from engine.core.config import Settings
from engine.serving.mixes import Mix, build_mixes
from engine.serving.recommender import Recommender
from engine.state.store import Store
from spotify.playlists import tracks_to_csv
from tests.app.conftest import DEMO_USERS, demo_tables
from tests.app.helpers import open_page, pick_demo_listener, run, start
from tests.app.test_signed_in import fake, sign_in, signed_in_env  # noqa: F401  (fixtures)
from tests.fake_spotify import FakeSpotify
from webapp.cards import md_escape
from webapp.mixes import mix_frame, mix_title

_MIX_LINK = re.compile(r'class="mix-title"><a href="https://open\.spotify\.com/track/([0-9A-Za-z]{22})"')


def mix_ids(at: AppTest) -> list[list[str]]:
    """Track ids of each mix's compact cards on the page, mix by mix."""
    return [found for h in at.get("html") if (found := _MIX_LINK.findall(h.proto.body))]


def expected_mixes(settings: Settings, history: dict[str, float]) -> tuple[Recommender, tuple[Mix, ...]]:
    rec = Recommender(load_current(settings.models_dir))
    return rec, build_mixes(rec, history)


def test_a_demo_listener_gets_named_mixes_with_their_cards_and_csv(app_env: Settings) -> None:
    at = open_page(pick_demo_listener(start()), "recommendations")
    tables = demo_tables(load_current(app_env.models_dir).items)["demo_history"]
    history = {t: float(w) for t, w in tables.loc[tables["user_id"] == DEMO_USERS[0], ["track_id", "weight"]].values}
    rec, mixes = expected_mixes(app_env, history)
    assert [m.cluster for m in mixes] == [0]  # the listener plays cluster 0 only
    assert mixes[0].name.endswith(" · genre0") and mixes[0].share == pytest.approx(1.0)
    assert [e.label for e in at.expander if "of your listening" in e.label] == [md_escape(mix_title(m)) for m in mixes]
    assert mix_ids(at) == [list(m.tracks.track_ids) for m in mixes]
    assert len(mixes[0]) == 20 and not set(mixes[0].tracks.track_ids) & set(history)
    captions = " ".join(c.value for c in at.caption)
    assert "25% new artists" in captions and "Sign in with Spotify on the Home page to save mixes" in captions
    (download,) = [d for d in at.get("download_button") if d.proto.label == "Download CSV"]
    csv = tracks_to_csv(mix_frame(rec, mixes[0]).to_dict("records"))
    # the button serves exactly this CSV (Streamlit names a download by a hash of its bytes)
    assert download.proto.url.endswith(_calculate_file_id(csv.encode(), "text/csv", "mix-0.csv") + ".csv")
    assert not [b for b in at.button if b.label == "Save to Spotify"]  # not signed in: CSV only


def test_a_disliked_track_leaves_the_mix(app_env: Settings) -> None:
    at = open_page(pick_demo_listener(start()), "recommendations")
    first = mix_ids(at)[0]
    # a dislike as the card's button stores it (the mix's tracks need not be among the cards)
    Store(app_env.store_path).set_feedback(at.session_state["user_key"], target="track", target_id=first[0], value=-1)
    run(at)
    assert first[0] not in mix_ids(at)[0]


def test_saving_a_mix_creates_then_updates_its_own_playlist(signed_in_env: Settings, fake: FakeSpotify) -> None:  # noqa: F811
    at = open_page(sign_in(), "recommendations")
    shown = mix_ids(at)
    labels = [e.label for e in at.expander if "of your listening" in e.label]
    # alice plays every sound: a mix each, and only the first (open) one has built its tracks
    assert len(labels) == 4 and len(shown) == 1 and len(shown[0]) == 20
    key = at.session_state["user_key"]
    cluster = int(at.get("download_button")[0].proto.id.rsplit("-", 1)[-1])
    memo = at.session_state["taste_mixes"][1]
    assert [p.cluster for p in memo.plans][0] == cluster and list(memo.built) == [cluster]
    fake.clear_requests()
    at.button(key=f"mix-save-{cluster}").click()
    run(at)
    assert at.success and at.success[0].value.startswith("Created")
    (created,) = fake.requests_to("/v1/me/playlists", "POST")
    assert created.json["name"].startswith("Taste mix · ") and created.json["public"] is False
    (playlist,) = [p for p in fake.playlists_of("alice") if p.name == created.json["name"]]
    assert [uri for uri, _, _ in playlist.items] == [f"spotify:track:{t}" for t in shown[0]]
    records = Store(signed_in_env.store_path).playlists(key)
    assert [(r.playlist_id, r.name, r.n_tracks) for r in records] == [(playlist.id, playlist.name, len(shown[0]))]

    # saving the mix again replaces that playlist's items instead of making another
    fake.clear_requests()
    at.button(key=f"mix-save-{cluster}").click()
    run(at)
    assert at.success[0].value.startswith("Updated")
    assert not fake.requests_to("/v1/me/playlists", "POST")
    assert fake.requests_to(f"/v1/playlists/{playlist.id}/items", "PUT")

    # ... and the Playlists page never offers to overwrite the mix with the recommendations
    open_page(at, "playlists")
    assert at.text_input[0].value == "Recommended for you"
    fake.clear_requests()
    next(b for b in at.button if b.label == "Save to Spotify").click()
    run(at)
    assert at.success[0].value.startswith("Created")
    assert len(fake.requests_to("/v1/me/playlists", "POST")) == 1
    assert [uri for uri, _, _ in fake.playlist(playlist.id).items] == [f"spotify:track:{t}" for t in shown[0]]
