"""Editable taste on the Recommendations page (real Streamlit AppTest, real store and event files).

Deselect an artist in a card's "Why this?" -> the list re-folds, the artist explains no card,
``exclude`` events are written; put it back in "Edit your taste" -> the first list returns.
A data export's listening dates can be left out; "Forget me" drops the exclusions and their events.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from datetime import date

from engine.bundle.load import load_current
from engine.core.config import Settings
from engine.state.events import EXCLUDE, read_events
from engine.state.store import Store
from tests.app.conftest import DEMO_USERS
from tests.app.helpers import open_page, pick_demo_listener, run, shown_ids, start

_WHY = re.compile(r"^why-(\d+)-([0-9A-Za-z]{22})-([ta])$")  # a card's "Why this?" pills: tracks, artists
_WHY_ARTIST, _WHY_TRACK = "a", "t"


def _why(at, kind: str) -> list[tuple[str, str]]:
    """``(recommended track, explaining id)`` of every "Why this?" pill of a kind on the page."""
    return [(m.group(2), str(listed)) for g in at.button_group
            if (m := _WHY.match(str(g.key))) and m.group(3) == kind for listed in (g.value or [])]


def _because_lines(at) -> str:
    return " ".join(h.proto.body for h in at.get("html") if "rec-card" in h.proto.body)


def test_unticking_an_artist_refolds_the_list_and_it_explains_no_card(app_env: Settings) -> None:
    at = open_page(pick_demo_listener(start()), "recommendations")
    before = shown_ids(at)
    assert len(before) == 20 and len(_why(at, _WHY_ARTIST)) >= 20  # every card says why
    items = load_current(app_env.models_dir).items
    history = set(items.loc[items["cluster"] == 0, "track_id"].head(15))  # demo:001 (tests/app/conftest.py)
    (_, artist), *_ = _why(at, _WHY_ARTIST)
    theirs = {t for t, ids in zip(items["track_id"], items["artist_ids"]) if artist in list(ids)} & history
    names = set(items.set_index("track_id").loc[sorted(theirs), "name"])
    assert theirs and any(n in _because_lines(at) for n in names)

    pills = next(g for g in at.button_group if (m := _WHY.match(str(g.key))) and m.group(3) == _WHY_ARTIST
                 and artist in (g.value or []))
    pills.unselect(artist)
    run(at)

    after = shown_ids(at)
    assert len(after) == 20 and after != before
    assert artist not in {a for _, a in _why(at, _WHY_ARTIST)}
    assert not theirs & {t for _, t in _why(at, _WHY_TRACK)}
    assert not any(n in _because_lines(at) for n in names)  # "Because you played …" never names them
    assert not theirs & set(after)  # still known tracks: never recommended back
    assert at.multiselect(key="taste_artists").value == [artist]
    assert "1 artist left out" in at.expander[0].label
    key = at.session_state["user_key"]
    excluded = [e for e in read_events(app_env.events_dir) if e.user_id == key and e.kind == EXCLUDE]
    assert {e.track_id for e in excluded} == theirs and all(e.weight < 0 for e in excluded)
    assert {e.track_id for e in Store(app_env.store_path).events(key, kind=EXCLUDE)} == theirs

    # Put the artist back in the editor: the first list returns, and no new event is written.
    at.multiselect(key="taste_artists").unselect(artist)
    run(at)
    assert shown_ids(at) == before and at.expander[0].label == "Edit your taste"
    assert len([e for e in read_events(app_env.events_dir) if e.kind == EXCLUDE]) == len(excluded)


def test_exclusions_belong_to_one_listener(app_env: Settings) -> None:
    at = open_page(pick_demo_listener(start()), "recommendations")
    (_, artist), *_ = _why(at, _WHY_ARTIST)
    at.multiselect(key="taste_artists").select(artist)
    run(at)
    assert "1 artist left out" in at.expander[0].label
    open_page(pick_demo_listener(open_page(at, "home"), DEMO_USERS[1]), "recommendations")
    assert at.expander[0].label == "Edit your taste" and at.multiselect(key="taste_artists").value == []


def _export(items, days: int = 6) -> bytes:
    plays = [
        {"ts": f"2024-05-0{d}T10:00:00Z", "ms_played": 200_000, "master_metadata_track_name": name,
         "master_metadata_album_artist_name": artists[0], "master_metadata_album_album_name": "x",
         "spotify_track_uri": f"spotify:track:{tid}", "skipped": False, "reason_end": "trackdone"}
        for d, (tid, name, artists) in enumerate(items[["track_id", "name", "artists"]].head(days).itertuples(index=False), 1)
    ]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("Spotify Extended Streaming History/Streaming_History_Audio_2024_0.json", json.dumps(plays))
    return buf.getvalue()


def test_leaving_out_dates_of_an_export_and_forget_me(app_env: Settings) -> None:
    items = load_current(app_env.models_dir).items
    at = start()
    at.file_uploader[0].set_value(("my_spotify_data.zip", _export(items), "application/zip"))
    run(at)
    next(b for b in at.button if b.label == "Import my history").click()
    run(at)
    open_page(at, "recommendations")
    before = shown_ids(at)
    first_three = set(items["track_id"].head(3))  # played on May 1-3 only
    assert first_three & {t for _, t in _why(at, _WHY_TRACK)}

    at.slider(key="taste_dates").set_value((date(2024, 5, 1), date(2024, 5, 3)))
    run(at)
    at.button(key="taste_add_period").click()
    run(at)

    assert shown_ids(at) != before
    assert not first_three & {t for _, t in _why(at, _WHY_TRACK)}
    assert [p for p in at.multiselect(key="taste_periods").value] == [(1714521600, 1714780800)]  # May 1 – May 4
    assert "1 time range left out" in at.expander[0].label
    key = at.session_state["user_key"]
    assert {e.track_id for e in read_events(app_env.events_dir) if e.kind == EXCLUDE and e.user_id == key} == first_three

    open_page(at, "home")
    next(b for b in at.button if b.label == "Forget me").click()
    run(at)
    assert not [e for e in read_events(app_env.events_dir) if e.user_id == key]
    open_page(at, "recommendations")
    assert at.expander[0].label == "Edit your taste" and shown_ids(at) == before
