"""What the pages claim matches the serving bundle: Home's model line, the cards' sound words,
and catalogue text (topic labels) rendered as text, never as Markdown."""

from __future__ import annotations

import pytest

from engine.bundle.load import load_current
from engine.bundle.publish import publish_bundle
from engine.core.config import Settings
from engine.state.store import Store
from tests.app.conftest import seed_bundle_parts
from tests.app.helpers import open_page, pick_demo_listener, run, start
from webapp.cards import md_escape


def test_home_says_what_the_serving_bundle_holds(app_env: Settings, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    parts = seed_bundle_parts()
    parts["data_stats"] = {"n_users": 1234, "n_interactions": 98765, "n_items": len(parts["items"])}
    publish_bundle(tmp_path / "models", **parts)
    monkeypatch.setenv("MODELS_DIR", str(tmp_path / "models"))
    bundle = load_current(tmp_path / "models")
    text = " ".join(m.value for m in start().markdown).replace("\\", "")
    assert (f"a model of {bundle.n_items:,} tracks, trained on 98,765 listening events of 1,234 listeners "
            f"(version {bundle.version})") in text
    assert "hundreds of thousands" not in text


def test_cards_describe_each_track_from_its_own_features(app_env: Settings) -> None:
    at = open_page(pick_demo_listener(start()), "recommendations")
    bodies = [h.proto.body for h in at.get("html") if 'class="rec-card"' in h.proto.body]
    assert len(bodies) == 20
    assert all("<li>This song: " in b for b in bodies) and not any("Sound: " in b for b in bodies)
    # Two cards of the same cluster need not read alike: the words follow the track, not the centroid.
    assert len({b.split("<li>This song: ")[1].split("</li>")[0] for b in bodies}) > 1


def test_a_topic_label_is_shown_as_text_on_the_similar_page(app_env: Settings) -> None:
    items = load_current(app_env.models_dir).items
    target = items["track_id"].iloc[7]
    hostile = "**loud** [click](javascript:alert(1)) ![x](http://e/p.png)"
    Store(app_env.store_path).replace_topics([(0, hostile)], [(target, 0, 0.9)])
    at = open_page(start(), "similar")
    at.text_input(key="similar_query").input(f"{items['artists'].iloc[7][0]} {items['name'].iloc[7]}")
    run(at)
    caption = " ".join(c.value for c in at.caption)
    assert f"genre topic: {md_escape(hostile)}" in caption and "[click](" not in caption
