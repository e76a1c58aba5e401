"""The Recommendations page's two lists, the dial and the match summary (real Streamlit AppTest)."""

from __future__ import annotations

import io
import json
import zipfile

from engine.bundle.load import load_current
from engine.core.config import Settings
from tests.app.conftest import DEMO_USERS, demo_tables
from tests.app.helpers import open_page, pick_demo_listener, run, shown_ids, start


def _artists(settings: Settings) -> dict[str, set[str]]:
    items = load_current(settings.models_dir).items
    return {t: set(a) for t, a in zip(items["track_id"], items["artist_ids"])}


def _history_artists(settings: Settings, user: str) -> set[str]:
    items = load_current(settings.models_dir).items
    history = demo_tables(items)["demo_history"]
    by_track = _artists(settings)
    return {a for t in history.loc[history["user_id"] == user, "track_id"] for a in by_track[t]}


def _captions(at) -> str:
    return " ".join(c.value for c in at.caption)


def test_the_page_offers_both_lists_and_the_dial(app_env: Settings) -> None:
    at = open_page(pick_demo_listener(start()), "recommendations")
    assert "new artists · popularity percentile" in _captions(at)
    mix = shown_ids(at)
    by_track, mine = _artists(app_env), _history_artists(app_env, DEMO_USERS[0])

    at.segmented_control(key="ctl_view").set_value("new")
    run(at)
    new = shown_ids(at)
    assert new and all(not by_track[t] & mine for t in new)  # artists absent from the history
    assert "**New to you**: 100% new artists" in _captions(at)

    at.segmented_control(key="ctl_view").set_value("familiar")
    run(at)
    familiar = shown_ids(at)
    assert familiar and all(by_track[t] & mine for t in familiar)  # the listener's own artists
    assert set(mix) <= set(new) | set(familiar)  # the mix is made of the two lists

    at.segmented_control(key="ctl_view").set_value("blended")
    at.slider(key="ctl_discovery").set_value(1.0)
    run(at)
    assert shown_ids(at) == new[: len(shown_ids(at))]  # the dial at "new": the new list
    at.slider(key="ctl_discovery").set_value(0.0)
    run(at)
    assert shown_ids(at)[: len(familiar)] == familiar


def test_the_match_summary_counts_each_path(app_env: Settings) -> None:
    items = load_current(app_env.models_dir).items
    first, second, third = (items.iloc[i] for i in (0, 1, 2))
    extended = [
        {"ts": "2024-05-01T10:00:00Z", "ms_played": 200_000, "master_metadata_track_name": first["name"],
         "master_metadata_album_artist_name": first["artists"][0], "master_metadata_album_album_name": "x",
         "spotify_track_uri": f"spotify:track:{first['track_id']}", "skipped": False},
    ]
    account = [  # no ids in account data: by artist + title, then by artist only
        {"endTime": "2024-05-02 10:00", "artistName": second["artists"][0], "trackName": second["name"], "msPlayed": 200_000},
        {"endTime": "2024-05-03 10:00", "artistName": third["artists"][0], "trackName": "A B-side nobody has",
         "msPlayed": 200_000},
    ]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("Spotify Extended Streaming History/Streaming_History_Audio_2024_0.json", json.dumps(extended))
        zf.writestr("Spotify Account Data/StreamingHistory_music_0.json", json.dumps(account))
    at = start()
    at.file_uploader[0].set_value(("my_spotify_data.zip", buf.getvalue(), "application/zip"))
    run(at)
    next(b for b in at.button if b.label == "Import my history").click()
    run(at)
    open_page(at, "recommendations")
    assert "3 of 3 tracks found in the catalogue (1 by id, 1 by artist + title, 1 by artist only)" in _captions(at)
    assert len(shown_ids(at)) == 20
