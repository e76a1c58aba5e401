"""The Similar songs page shows which method found each track (live hybrid + stored methods)."""

from __future__ import annotations

from engine.bundle.load import load_current
from engine.core.config import Settings
from engine.state.store import Store
from tests.app.helpers import open_page, run, shown_ids, start


def test_similar_page_names_the_methods(app_env: Settings) -> None:
    items = load_current(app_env.models_dir).items
    target, other, third = items["track_id"].iloc[7], items["track_id"].iloc[40], items["track_id"].iloc[41]
    store = Store(app_env.store_path)
    store.replace_similar([(target, other, 0.8), (target, third, 0.5)], method="minhash")
    store.replace_topics([(0, "bebop / cool jazz")], [(target, 0, 0.9)])
    at = open_page(start(), "similar")
    at.text_input(key="similar_query").input(f"{items['artists'].iloc[7][0]} {items['name'].iloc[7]}")
    run(at)
    ids = shown_ids(at)
    assert len(ids) == 10 and ids[1] == other  # round robin: hybrid's first, then minhash's first
    html = " ".join(h.proto.body for h in at.get("html"))
    assert "MinHash (shared listeners)" in html and "ALS + content" in html
    caption = " ".join(c.value for c in at.caption)
    assert "Found by: hybrid, minhash" in caption and "bebop / cool jazz" in caption
