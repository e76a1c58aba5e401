"""Regenerate ``docs/screenshot-recommendations.png`` from the real demo bundle.

Starts ``streamlit run app.py`` serving ``models/demo`` (no Spotify sign-in configured), picks
the first demo listener in headless Chromium and screenshots the Recommendations page. Run with
``.venv/bin/python scripts/readme_screenshot.py`` after ``make browser`` (Debian chromium).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser.harness import CHROMIUM, CHROMIUM_FLAGS, streamlit_app  # noqa: E402

OUT = ROOT / "docs" / "screenshot-recommendations.png"


def main() -> int:
    """Start the app on the demo bundle, take the screenshot, stop the app."""
    tmp = Path(tempfile.mkdtemp(prefix="shot-"))
    (tmp / "models").mkdir()
    (tmp / "data").mkdir()
    with streamlit_app(None, data_dir=tmp / "data", models_dir=tmp / "models", log_path=tmp / "streamlit.log") as url:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            page.set_default_timeout(int(os.environ.get("SHOT_TIMEOUT_MS", "90000")))
            page.goto(url)
            try:
                page.get_by_role("button", name="Listen as this demo listener").click()
                page.get_by_test_id("stSidebarNav").get_by_text("Recommendations", exact=True).click()
                page.locator(".rec-card").nth(5).wait_for()
            except Exception:
                failed = Path(tempfile.gettempdir()) / "readme-screenshot-failed.png"
                page.screenshot(path=str(failed))
                print(f"failed; the page as it was: {failed}", file=sys.stderr)
                raise
            page.locator("[data-testid='stStatusWidget']").wait_for(state="hidden")
            page.wait_for_load_state("networkidle")
            time.sleep(3)  # let the embed iframes paint
            page.screenshot(path=str(OUT))
            browser.close()
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
