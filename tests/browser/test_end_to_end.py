"""End to end: ``streamlit run`` + the fake Spotify, driven by headless Debian Chromium.

Sign in (through the fake's consent page) -> recommendations -> untick an artist in "Why
this?" (the list changes) -> every other page -> save a playlist, waiting for elements (never fixed sleeps), asserting on page text and on what the
fake received. Screenshots of each page go to ``tests/artifacts/`` (gitignored); the
recommendations one is copied to ``docs/screenshot-recommendations.png`` for the README.

Needs ``chromium`` (``make browser`` installs the Debian package) and the ``playwright``
Python package (its own browser downloads are never used: it drives ``/usr/bin/chromium``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from engine.bundle.publish import publish_bundle
from tests.app.conftest import ROOT, seed_bundle_parts
from tests.browser.harness import CHROMIUM, CHROMIUM_FLAGS, VIEWPORT, sign_in, streamlit_app
from tests.fake_spotify import FakeSpotify

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ARTIFACTS = ROOT / "tests" / "artifacts"
README_SHOT = ROOT / "docs" / "screenshot-recommendations.png"
WAIT_MS = 60_000  # upper bound for an element to appear on a loaded 2-core machine


@pytest.fixture(scope="module")
def sync_playwright():
    if not Path(CHROMIUM).is_file():
        pytest.skip("needs Debian's chromium (apt-get install chromium, or `make browser`)")
    api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package (requirements-dev.txt)")
    return api.sync_playwright


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeSpotify]:
    with FakeSpotify(catalogue=None) as server:  # the consent page asks which seeded user signs in
        yield server


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory, fake: FakeSpotify) -> Iterator[str]:
    """``streamlit run app.py`` on a free port, pointed at the fake and a test bundle."""
    tmp = tmp_path_factory.mktemp("e2e")
    publish_bundle(tmp / "models", **seed_bundle_parts())
    (tmp / "data").mkdir()
    with streamlit_app(fake, data_dir=tmp / "data", models_dir=tmp / "models", log_path=tmp / "streamlit.log") as url:
        yield url


def test_sign_in_recommend_and_save_a_playlist(sync_playwright, app_url: str, fake: FakeSpotify) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport=VIEWPORT)
        page.set_default_timeout(WAIT_MS)

        def shot(name: str) -> Path:
            # Streamlit shows its status widget while the script runs: wait until it is done.
            page.locator("[data-testid='stStatusWidget']").wait_for(state="hidden")
            page.wait_for_load_state("networkidle")
            path = ARTIFACTS / f"{name}.png"
            # Streamlit scrolls inside its main container, so this is the visible part of the page.
            page.screenshot(path=str(path))
            return path

        def go(title: str, heading: str) -> None:
            page.get_by_test_id("stSidebarNav").get_by_text(title, exact=True).click()
            page.get_by_role("heading", name=heading).wait_for()

        # Home: not signed in yet; the demo says its listeners are synthetic.
        page.goto(app_url)
        page.get_by_role("heading", name="Your music, your next songs").wait_for()
        page.get_by_role("link", name="Sign in with Spotify").wait_for()
        page.get_by_text("Your data and privacy").wait_for()
        shot("1-home")

        # Sign in through the fake's consent page; Spotify redirects back to the same tab.
        signed_in = sign_in(page)
        assert "tracks found in the catalogue" in signed_in.inner_text()
        page.get_by_text("See your recommendations").wait_for()
        page.get_by_text("Your data and privacy").wait_for()
        assert "code=" not in page.url  # the one-time code left the address bar
        # The redirect opened a new Streamlit session; the link's cookie is what bound it to this browser.
        assert any(c["name"] == "spotify_signin" for c in page.context.cookies())
        assert page.get_by_text("Continue as").count() == 0
        (exchange,) = fake.requests_to("/api/token", "POST")
        assert exchange.form.get("code_verifier") and "client_secret" not in exchange.form  # PKCE
        shot("2-home-signed-in")

        go("Recommendations", "Recommendations")
        cards = page.locator(".rec-card")
        cards.nth(19).wait_for()
        page.locator(".rec-reasons li", has_text="Because you played").first.wait_for()
        page.locator(".rec-side img.rec-art").first.wait_for()  # album art from Spotify
        hrefs = page.locator(".rec-title a").evaluate_all("els => els.map(e => e.href)")
        shown = [h.rsplit("/", 1)[-1] for h in hrefs]
        assert len(shown) == 20 and len(set(shown)) == 20
        recs_shot = shot("3-recommendations")
        if os.environ.get("UPDATE_README_SCREENSHOT"):  # a test run never dirties the work tree
            shutil.copyfile(recs_shot, _readme_shot())

        # "Why this?" on the first card: deselect its top artist, and the list re-folds without them.
        page.get_by_test_id("stPopoverButton").first.click()
        artist = page.get_by_test_id("stPopoverBody").get_by_role("button").filter(has_text="of your songs").first
        artist.wait_for()
        shot("3a-why-this")
        artist.click()
        page.get_by_text("Edit your taste (1 artist left out)").wait_for()
        page.wait_for_function(  # the cards re-render after the editor: wait for a different list
            "old => { const ids = [...document.querySelectorAll('.rec-title a')].map(a => a.href.split('/').pop());"
            " return ids.length >= 20 && ids.slice(0, 20).join() !== old.join(); }", arg=shown)
        page.locator("[data-testid='stStatusWidget']").wait_for(state="hidden")
        cards.nth(19).wait_for()
        refolded = [h.rsplit("/", 1)[-1] for h in page.locator(".rec-title a").evaluate_all("els => els.map(e => e.href)")]
        assert len(refolded) == 20 and refolded != shown
        shot("3b-recommendations-edited")
        shown = refolded  # the playlist below saves the list as it is now

        go("Your taste", "Your taste")
        page.locator("[data-testid='stVegaLiteChart'] svg").nth(4).wait_for()
        shot("4-taste")
        go("Explore", "Explore the catalogue")
        page.locator("[data-testid='stVegaLiteChart'] canvas").first.wait_for()
        shot("5-explore")
        go("Similar songs", "Similar songs")
        page.get_by_label("Artist and title").fill("Little")
        page.get_by_label("Artist and title").press("Enter")
        page.locator(".rec-card").nth(9).wait_for()
        shot("6-similar")
        go("Model", "The model")
        page.get_by_text("Refresh history").wait_for()
        shot("7-model")

        go("Playlists", "Playlists")
        fake.clear_requests()
        page.get_by_label("Name").fill("Browser mix")
        page.get_by_role("button", name="Save to Spotify").click()
        page.get_by_text("Created “Browser mix” with 20 songs.").wait_for()
        page.get_by_role("link", name="Open in Spotify").scroll_into_view_if_needed()
        shot("8-playlists-saved")
        browser.close()

    (created,) = fake.requests_to("/v1/me/playlists", "POST")
    assert created.json["name"] == "Browser mix" and created.user == "alice"
    (playlist,) = [p for p in fake.playlists_of("alice") if p.name == "Browser mix"]
    assert [uri for uri, _, _ in playlist.items] == [f"spotify:track:{t}" for t in shown]


def test_a_forwarded_sign_in_link_asks_before_signing_in(sync_playwright, app_url: str, fake: FakeSpotify) -> None:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        attacker = browser.new_context().new_page()
        attacker.set_default_timeout(WAIT_MS)
        attacker.goto(app_url)
        link = attacker.get_by_role("link", name="Sign in with Spotify")
        href = link.get_attribute("href") or ""
        # The attacker approves as themselves but does not follow the redirect: they send it on.
        approve = href.replace("/authorize?", "/authorize/approve?", 1) + "&user=bob"
        forwarded = requests.get(approve, allow_redirects=False, timeout=10).headers["Location"]

        victim = browser.new_context().new_page()  # another browser profile: no sign-in cookie
        victim.set_default_timeout(WAIT_MS)
        victim.goto(forwarded)
        victim.get_by_text("did not start in this browser").wait_for()
        assert "Bob Berg" in victim.get_by_test_id("stAlertContentWarning").inner_text()
        assert victim.get_by_text("Listening as").count() == 0
        victim.get_by_role("button", name="Not me").click()
        # .first: while Streamlit reruns, the stale and the new link can both be on the page
        victim.get_by_role("link", name="Sign in with Spotify").first.wait_for()
        assert victim.get_by_text("Listening as").count() == 0
        browser.close()


def _readme_shot() -> Path:
    README_SHOT.parent.mkdir(parents=True, exist_ok=True)
    return README_SHOT
