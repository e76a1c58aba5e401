"""Regenerate ``docs/screenshot-recommendations.png`` from the real demo bundle.

Starts ``streamlit run app.py`` serving ``models/demo`` (no Spotify sign-in configured), picks
the first demo listener in headless Chromium and screenshots the Recommendations page. Run with
``.venv/bin/python scripts/readme_screenshot.py`` after ``make browser`` (Debian chromium).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshot-recommendations.png"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    """Start the app on the demo bundle, take the screenshot, stop the app."""
    tmp = Path(tempfile.mkdtemp(prefix="shot-"))
    (tmp / "models").mkdir()
    (tmp / "data").mkdir()
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPOTIFY_")}
    env.update(DATA_DIR=str(tmp / "data"), MODELS_DIR=str(tmp / "models"), APP_STATE_SECRET="screenshot")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.address",
         "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if requests.get(f"{url}_stcore/health", timeout=2).text == "ok":
                    break
            except requests.RequestException:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("streamlit did not start")
            time.sleep(0.3)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=FLAGS)
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
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
