"""Small helpers shared by the AppTest modules."""

from __future__ import annotations

import re

from streamlit.testing.v1 import AppTest

from tests.app.conftest import APP, TIMEOUT

_CARD_LINK = re.compile(r'class="rec-title"><a href="https://open\.spotify\.com/track/([0-9A-Za-z]{22})"')

PAGES = {
    "home": ("pages/home.py", "Your music, your next songs"),
    "recommendations": ("pages/recommendations.py", "Recommendations"),
    "taste": ("pages/taste.py", "Your taste"),
    "explore": ("pages/explore.py", "Explore the catalogue"),
    "similar": ("pages/similar.py", "Similar songs"),
    "playlists": ("pages/playlists.py", "Playlists"),
    "model": ("pages/model.py", "The model"),
}


def run(at: AppTest) -> AppTest:
    """Run and fail loudly on an exception in the script."""
    at.run(timeout=TIMEOUT)
    assert not at.exception, [e.value for e in at.exception]
    return at


def start() -> AppTest:
    """A fresh session on the Home page."""
    return run(AppTest.from_file(APP, default_timeout=TIMEOUT))


def pick_demo_listener(at: AppTest, user_id: str = "demo:001") -> AppTest:
    """Choose a demo listener on the Home page."""
    at.selectbox(key="demo_pick").select(user_id)
    next(b for b in at.button if b.label == "Listen as this demo listener").click()
    return run(at)


def open_page(at: AppTest, name: str) -> AppTest:
    """Switch to one of :data:`PAGES` and check its title."""
    path, title = PAGES[name]
    run(at.switch_page(path))
    assert [t.value for t in at.title] == [title]
    return at


def shown_ids(at: AppTest) -> list[str]:
    """Track ids of the recommendation cards on the page, top to bottom."""
    return [m.group(1) for h in at.get("html") for m in [_CARD_LINK.search(h.proto.body)] if m]


def button(at: AppTest, key: str):
    """The button with widget key ``key``."""
    return at.button(key=key)
