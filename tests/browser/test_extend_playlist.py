"""End to end in Chromium: sign in with the fake Spotify, extend one's own playlist on the Playlists
page, tick two continuations and add them; the fake's playlist must end with exactly those two.

Reuses the server, fake and browser fixtures of ``test_end_to_end`` (a streamlit server of its own
for this module); needs Debian's chromium and the playwright package, as that test does.
"""

from __future__ import annotations

import re

import pytest

from tests.browser import test_end_to_end as e2e
from tests.browser.harness import VIEWPORT, sign_in
from tests.fake_spotify import FakeSpotify

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# The fixtures of test_end_to_end, bound here so this module gets its own (module-scoped) ones.
sync_playwright = e2e.sync_playwright
fake = e2e.fake
app_url = e2e.app_url


def test_sign_in_extend_a_playlist_and_add_two_songs(sync_playwright, app_url: str, fake: FakeSpotify) -> None:
    road = fake.playlists_of("alice")[0]
    before = [uri for uri, _, _ in road.items]
    e2e.ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=e2e.CHROMIUM, headless=True, args=e2e.CHROMIUM_FLAGS)
        page = browser.new_page(viewport=VIEWPORT)
        page.set_default_timeout(e2e.WAIT_MS)

        page.goto(app_url)
        sign_in(page)

        page.get_by_test_id("stSidebarNav").get_by_text("Playlists", exact=True).click()
        page.get_by_role("heading", name="Playlists").wait_for()
        page.get_by_test_id("stButtonGroup").get_by_text("Extend a playlist", exact=True).click()
        page.get_by_role("heading", name="Extend a playlist").wait_for()
        page.get_by_text("Left out: 1 local file.").wait_for()  # Road trip, read through the API
        boxes = page.get_by_test_id("stCheckbox")
        boxes.nth(19).wait_for()  # twenty continuations
        labels = [boxes.nth(i).inner_text().strip() for i in range(2)]
        for i in range(2):
            boxes.nth(i).click()
            page.get_by_text(f"{i + 1} ticked.").wait_for()
        fake.clear_requests()
        page.get_by_role("button", name="Add to this playlist").click()
        page.get_by_text("Added 2 songs to “Road trip”.").wait_for()
        page.get_by_text("Tick the songs you want to add.").wait_for()  # read again: the two are in it now
        page.locator("[data-testid='stStatusWidget']").wait_for(state="hidden")
        assert page.locator("[data-testid='stCheckbox'] input:checked").count() == 0
        assert not set(labels) & {boxes.nth(i).inner_text().strip() for i in range(boxes.count())}
        page.screenshot(path=str(e2e.ARTIFACTS / "9-playlist-extended.png"))
        browser.close()

    (post,) = fake.requests_to(f"/v1/playlists/{road.id}/items", "POST")
    assert post.user == "alice" and len(post.json) == 2
    after = [uri for uri, _, _ in fake.playlist(road.id).items]
    assert after == before + post.json  # the playlist now ends with the two songs, nothing else changed
    titles = [fake.seed.tracks[uri.rsplit(":", 1)[-1]].name for uri in post.json]
    assert [re.split(r" — ", label)[0] for label in labels] == titles  # the two that were ticked
