"""End to end, the Blend: sign in with the fake Spotify in headless Chromium, blend with a demo
listener on the Recommendations page, save the blend to Spotify, and check what the fake
received: a new playlist whose items are the blend's cards, in order.

Reuses the server, fake and browser fixtures of ``tests/browser/test_end_to_end.py`` (its own
instances for this module); waits for elements, never fixed sleeps.
"""

from __future__ import annotations

import pytest

from tests.browser.harness import VIEWPORT, sign_in
from tests.browser.test_end_to_end import (  # noqa: F401  (fixtures pytest finds by name)
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_FLAGS,
    WAIT_MS,
    app_url,
    fake,
    sync_playwright,
)
from tests.fake_spotify import FakeSpotify

pytestmark = [pytest.mark.browser, pytest.mark.slow]

#: The track ids of the Blend's cards, in page order: each badge sits just before its card.
BLEND_IDS_JS = ("() => [...document.querySelectorAll('.blend-badge')]"
                ".map(b => b.nextElementSibling.querySelector('.rec-title a').href.split('/').pop())")


def test_blend_with_a_demo_listener_and_save_it_to_spotify(sync_playwright, app_url: str,  # noqa: F811
                                                           fake: FakeSpotify) -> None:  # noqa: F811
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport=VIEWPORT)
        page.set_default_timeout(WAIT_MS)
        page.goto(app_url)
        sign_in(page)

        page.get_by_test_id("stSidebarNav").get_by_text("Recommendations", exact=True).click()
        page.get_by_role("heading", name="Blend").wait_for()
        page.locator(".rec-card").nth(19).wait_for()  # the page's own list is there first
        page.get_by_role("button", name="Blend with this demo listener").click()
        page.get_by_test_id("stMetricLabel").filter(has_text="Taste match").wait_for()
        page.locator(".blend-badge").nth(19).wait_for()
        page.locator("[data-testid='stStatusWidget']").wait_for(state="hidden")
        value = page.get_by_test_id("stMetricValue").inner_text()
        assert value.endswith("%") and 0 <= int(value[:-1]) <= 100
        badges = page.locator(".blend-badge").all_inner_texts()
        assert len(badges) == 20 and set(badges) <= {"From your taste", "From Demo listener 001's taste", "Both of you"}
        blend = page.evaluate(BLEND_IDS_JS)
        assert len(blend) == 20 and len(set(blend)) == 20
        page.get_by_text("Blending you with Demo listener 001").scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "9-blend.png"))

        fake.clear_requests()
        page.get_by_label("Playlist name").fill("Browser blend")
        page.get_by_role("button", name="Save the blend to Spotify").click()
        page.get_by_text("Created “Browser blend” with 20 songs.").wait_for()
        page.screenshot(path=str(ARTIFACTS / "9a-blend-saved.png"))
        browser.close()

    (created,) = fake.requests_to("/v1/me/playlists", "POST")
    assert created.json["name"] == "Browser blend" and created.user == "alice"
    (playlist,) = [p for p in fake.playlists_of("alice") if p.name == "Browser blend"]
    assert [uri for uri, _, _ in playlist.items] == [f"spotify:track:{t}" for t in blend]
