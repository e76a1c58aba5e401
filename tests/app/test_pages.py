"""The app in demo mode through ``streamlit.testing.v1.AppTest`` (real Streamlit, real store)."""

from __future__ import annotations

import json

import pytest

from engine.core.config import Settings
from engine.state.events import read_events
from engine.state.store import Store
from tests.app.conftest import DEMO_USERS
from tests.app.helpers import (
    PAGES,
    open_page,
    pick_demo_listener,
    run,
    shown_ids,
    start,
)
from webapp.cards import md_escape


@pytest.mark.parametrize("page", list(PAGES))
def test_every_page_renders_in_demo_mode(app_env: Settings, page: str) -> None:
    at = pick_demo_listener(start())
    open_page(at, page)
    text = " ".join(str(getattr(e, "value", "")) for e in at.main) + " ".join(
        h.proto.body for h in at.get("html"))
    checks = {
        "home": lambda: "Demo listener 001" in at.success[0].value,
        "recommendations": lambda: len(shown_ids(at)) == 20 and "synthetic" in at.caption[0].value,
        "taste": lambda: len(at.get("vega_lite_chart")) == 5 and "Based on 15" in text,
        "explore": lambda: len(at.get("vega_lite_chart")) == 1 and len(at.dataframe) == 1,
        "similar": lambda: at.text_input(key="similar_query") is not None,
        "playlists": lambda: len(at.dataframe[0].value) == 20 and len(at.get("download_button")) == 1,
        "model": lambda: (md_escape(_version(app_env)) in " ".join(m.value for m in at.markdown)
                          and "ndcg@10" in at.dataframe[2].value["metric"].tolist()),
    }
    assert checks[page](), page


def test_pages_need_a_listener_first(app_env: Settings) -> None:
    at = start()
    for page in ("recommendations", "taste", "explore", "playlists"):
        run(at.switch_page(PAGES[page][0]))
        assert "Choose who is listening first" in at.info[0].value
    # Pages about the catalogue work without a listener.
    open_page(at, "model")
    assert at.metric[0].label == "Tracks" and at.metric[0].value == f"{len(_items(app_env)):,}"
    assert "published" in at.dataframe[-1].value.to_string()  # the refresh log


def test_demo_mode_says_listeners_are_synthetic_and_offers_no_sign_in(app_env: Settings) -> None:
    at = start()
    assert any("synthetic" in i.value and "not real people" in i.value for i in at.info)
    # No Spotify credentials configured: no sign-in link anywhere.
    assert "Sign in with Spotify" not in " ".join(h.proto.body for h in at.get("html"))
    assert [t.label for t in at.tabs] == ["Try the demo", "Upload your data export"]


def test_changing_controls_changes_the_results(app_env: Settings) -> None:
    at = open_page(pick_demo_listener(start()), "recommendations")
    before = shown_ids(at)
    at.slider(key="ctl_k").set_value(10)
    run(at)
    assert shown_ids(at) == before[:10]  # fewer of the same, in the same order

    at.slider(key="ctl_energy").set_value((0.5, 1.0))
    run(at)
    after = shown_ids(at)
    assert after and after != before[:10]
    energy = _items(app_env).set_index("track_id")["energy"]
    assert (energy[after] >= 0.5).all()

    at.slider(key="ctl_per_artist").set_value(1)
    run(at)
    artists = _items(app_env).set_index("track_id")["artists"]
    firsts = [artists[t][0] for t in shown_ids(at)]
    assert len(firsts) == len(set(firsts))


def test_controls_survive_a_page_switch(app_env: Settings) -> None:
    at = open_page(pick_demo_listener(start()), "recommendations")
    at.slider(key="ctl_k").set_value(5)
    run(at)
    shown = shown_ids(at)
    open_page(at, "playlists")
    assert at.dataframe[0].value["name"].tolist() == _names(app_env, shown)
    open_page(at, "recommendations")
    assert at.slider(key="ctl_k").value == 5 and shown_ids(at) == shown


def test_like_and_dislike_persist_and_rerank(app_env: Settings) -> None:
    at = open_page(pick_demo_listener(start()), "recommendations")
    first, second = shown_ids(at)[:2]
    at.button(key=f"dislike-{first}").click()
    run(at)
    assert first not in shown_ids(at)
    run(at)  # a plain rerun: the dislike is stored, not a one-off
    assert first not in shown_ids(at)

    artists = _items(app_env).set_index("track_id")["artist_ids"]
    blocked = artists[second][0]
    at.button(key=f"block-{second}").click()
    run(at)
    assert all(blocked not in artists[t] for t in shown_ids(at))

    liked = shown_ids(at)[0]
    at.button(key=f"like-{liked}").click()
    run(at)
    assert liked not in shown_ids(at)  # it joined the history
    assert "1 liked, 1 disliked songs, 1 hidden artists" in " ".join(c.value for c in at.caption)

    store = Store(app_env.store_path)
    key = at.session_state["user_key"]
    feedback = store.feedback(key)
    assert feedback.disliked_tracks == {first} and feedback.liked_tracks == {liked}
    assert feedback.disliked_artists == {blocked}
    kinds = [e.kind for e in read_events(app_env.events_dir) if e.user_id == key]
    assert kinds.count("dislike") == 1 and kinds.count("like") == 1 and "recommended" in kinds
    assert [e.kind for e in store.events(key, kind="like")] == ["like"]

    # A new session of the same listener would get a new key; the same session keeps it.
    open_page(at, "playlists")
    assert at.checkbox(key="pl_liked").value is True
    assert at.dataframe[0].value["name"].iloc[0] == _names(app_env, [liked])[0]


def test_preview_shows_the_embed_player_and_logs_a_play(app_env: Settings) -> None:
    at = open_page(pick_demo_listener(start()), "recommendations")
    assert not at.get("iframe")
    first = shown_ids(at)[0]
    at.button(key=f"play-{first}").click()
    run(at)
    frames = [f.proto.src for f in at.get("iframe")]
    assert frames == [f"https://open.spotify.com/embed/track/{first}"]
    assert any(e.kind == "play" and e.track_id == first for e in read_events(app_env.events_dir))
    at.toggle(key="ctl_players").set_value(True)
    run(at)
    assert len(at.get("iframe")) == len(shown_ids(at))


def test_seed_songs_by_fuzzy_search(app_env: Settings) -> None:
    at = start()
    items = _items(app_env)
    target = items.iloc[42]
    # A typo in the title still finds it.
    at.text_input(key="seed_query").input(f"{target['artists'][0]} {target['name'][:-1]}")
    run(at)
    at.button(key=f"add-{target['track_id']}").click()
    run(at)
    next(b for b in at.button if b.label == "Use these songs").click()
    run(at)
    assert "Your picks \\(1 song\\)" in at.success[0].value
    open_page(at, "recommendations")
    shown = shown_ids(at)
    assert len(shown) == 20 and target["track_id"] not in shown


def test_forget_me_deletes_this_listeners_data(app_env: Settings) -> None:
    at = open_page(pick_demo_listener(start()), "recommendations")
    first = shown_ids(at)[0]
    at.button(key=f"dislike-{first}").click()
    run(at)
    key = at.session_state["user_key"]
    store = Store(app_env.store_path)
    other = "demo:someone-else"
    store.set_feedback(other, target="track", target_id=first, value=1)
    assert store.feedback(key).disliked_tracks

    open_page(at, "home")
    next(b for b in at.button if b.label == "Forget me").click()
    run(at)
    assert "Deleted" in at.success[-1].value
    assert not store.feedback(key).disliked_tracks and not store.events(key)
    assert all(e.user_id != key for e in read_events(app_env.events_dir))
    assert store.feedback(other).liked_tracks == {first}


def test_events_are_json_lines_for_the_engine(app_env: Settings) -> None:
    at = open_page(pick_demo_listener(start(), DEMO_USERS[1]), "recommendations")
    files = sorted(app_env.events_dir.glob("*.jsonl"))
    assert files
    record = json.loads(files[0].read_text().splitlines()[0])
    assert set(record) == {"event_id", "user_id", "track_id", "kind", "weight", "ts"}
    assert record["user_id"] == at.session_state["user_key"] and record["user_id"].startswith("demo:")
    assert {e.track_id for e in read_events(app_env.events_dir) if e.kind == "recommended"} == set(shown_ids(at))
    run(at)  # an unchanged list is not logged twice
    assert len(list(app_env.events_dir.glob("*.jsonl"))) == len(files)


def test_similar_songs_page(app_env: Settings) -> None:
    at = open_page(start(), "similar")
    target = _items(app_env).iloc[7]
    at.text_input(key="similar_query").input(f"{target['artists'][0]} {target['name']}")
    run(at)
    assert at.selectbox(key="similar_pick").value == target["track_id"]
    ids = shown_ids(at)
    assert len(ids) == 10 and target["track_id"] not in ids
    assert "Listened to by the same people" in " ".join(h.proto.body for h in at.get("html"))
    at.text_input(key="similar_query").input("zzzz qqqq xxxx")
    run(at)
    assert "No song in the catalogue matches" in at.warning[0].value


def test_missing_model_is_a_sentence_not_a_traceback(app_env: Settings, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("MODELS_DIR", str(tmp_path / "no-models"))
    monkeypatch.setenv("DEMO_BUNDLE_DIR", str(tmp_path / "no-demo-bundle"))
    at = start()
    run(at.switch_page("pages/model.py"))
    assert "No model is available yet" in at.error[0].value


def _items(settings: Settings):
    from engine.bundle.load import load_current

    return load_current(settings.models_dir).items


def _version(settings: Settings) -> str:
    from engine.bundle.layout import current_version

    return current_version(settings.models_dir)


def _names(settings: Settings, ids: list[str]) -> list[str]:
    names = _items(settings).set_index("track_id")["name"]
    return [names[t] for t in ids]


def test_prepared_demo_listeners_and_hostile_track_names(app_env: Settings, app_models, tmp_path, monkeypatch) -> None:
    """A bundle without demo tables falls back to ``data/parquet``; catalogue text is escaped."""
    from engine.bundle.publish import publish_bundle
    from tests.app.conftest import write_demo_tables

    _, parts = app_models
    evil = '<script>alert(1)</script><img src=x onerror=alert(2)>'
    items = parts["items"].copy()
    items["name"] = [f"{evil} {i}" for i in range(len(items))]
    items["artists"] = [[f"[click](javascript:alert(3)) {a[0]}"] for a in items["artists"]]
    publish_bundle(tmp_path / "models", **{**parts, "items": items, "tables": None})
    write_demo_tables(app_env.data_dir, items)
    monkeypatch.setenv("MODELS_DIR", str(tmp_path / "models"))

    at = open_page(pick_demo_listener(start()), "recommendations")
    bodies = " ".join(h.proto.body for h in at.get("html"))
    assert len(shown_ids(at)) == 20
    assert "<script>" not in bodies and "<img" not in bodies
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in bodies
    for name in ("taste", "explore", "playlists"):
        open_page(at, name)  # plots and tables take the same names without breaking


def test_data_export_upload(app_env: Settings) -> None:
    import io
    import zipfile

    items = _items(app_env)
    plays = [
        {"ts": f"2024-05-0{d}T10:00:00Z", "ms_played": 200_000, "master_metadata_track_name": name,
         "master_metadata_album_artist_name": artists[0], "master_metadata_album_album_name": "x",
         "spotify_track_uri": f"spotify:track:{tid}", "skipped": False, "reason_end": "trackdone"}
        for d, (tid, name, artists) in enumerate(items[["track_id", "name", "artists"]].head(6).itertuples(index=False), 1)
    ]
    plays.append({**plays[0], "master_metadata_track_name": "Not In Catalogue", "master_metadata_album_artist_name":
                  "Nobody At All", "spotify_track_uri": "spotify:track:" + "Z" * 22})
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("Spotify Extended Streaming History/Streaming_History_Audio_2024_0.json", json.dumps(plays))
    at = start()
    at.file_uploader[0].set_value(("my_spotify_data.zip", buf.getvalue(), "application/zip"))
    run(at)
    next(b for b in at.button if b.label == "Import my history").click()
    run(at)
    assert "Your data export" in at.success[0].value and "6 of 7 tracks found" in at.success[0].value
    open_page(at, "recommendations")
    assert len(shown_ids(at)) == 20

    at = start()
    at.file_uploader[0].set_value(("notes.json", b"this is not json", "application/json"))
    run(at)
    next(b for b in at.button if b.label == "Import my history").click()
    run(at)
    assert r"notes\.json" in at.error[0].value and "Upload the zip Spotify sent you" in at.error[0].value
