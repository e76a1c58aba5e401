"""``streamlit run app.py`` against the local fake Spotify, for headless Chromium: shared by the
browser tests (``tests/browser/``) and ``bench/app_latency.py``.

The app is pointed at a models directory and a fresh data directory, signs in with PKCE (no
client secret) through the fake's accounts service, and serves on a free 127.0.0.1 port until
the ``streamlit_app`` context exits (terminate, then kill); :func:`sign_in` is the click path
through the fake's consent page. No pytest here, and playwright only for types: the bench runs
without pytest and says so itself when playwright is missing.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import requests

from tests.fake_spotify import FakeSpotify

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
VIEWPORT = {"width": 1400, "height": 1000}
START_TIMEOUT_S = 90.0  # upper bound for `streamlit run` to answer its health check on a loaded machine


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def app_env(url: str, fake: FakeSpotify | None, *, data_dir: Path, models_dir: Path) -> dict[str, str]:
    """The app's environment: these directories, Spotify = the fake, redirect back to ``url``
    (``fake`` None: no Spotify configured at all, demo mode)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPOTIFY_")}
    env.update(DATA_DIR=str(data_dir), MODELS_DIR=str(models_dir), APP_STATE_SECRET="e2e-state-secret")
    if fake is not None:
        # No client secret: the PKCE flow (the AppTest tests cover the client-secret flow).
        env.update(SPOTIFY_CLIENT_ID="fake-client-id", SPOTIFY_CLIENT_SECRET="", SPOTIFY_REDIRECT_URI=url,
                   SPOTIFY_API_BASE=fake.api_base, SPOTIFY_ACCOUNTS_BASE=fake.accounts_base)
    return env


@contextmanager
def streamlit_app(fake: FakeSpotify | None, *, data_dir: Path, models_dir: Path, log_path: Path,
                  extra_env: dict[str, str] | None = None, root: Path = ROOT) -> Iterator[str]:
    """Run ``streamlit run app.py`` headless (from checkout ``root``) and yield its URL once its
    health check answers.

    Raises RuntimeError with the log's tail when the server exits or does not come up within
    :data:`START_TIMEOUT_S`; the process is always stopped on exit.
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    env = {**app_env(url, fake, data_dir=data_dir, models_dir=models_dir), **(extra_env or {})}
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
             "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
             "--server.fileWatcherType", "none"],
            cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            while True:  # poll the health endpoint (the server is up when it answers "ok")
                try:
                    if requests.get(f"{url}_stcore/health", timeout=2).text == "ok":
                        break
                except requests.RequestException:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"streamlit did not start:\n{log_path.read_text(errors='replace')[-3000:]}")
                time.sleep(0.2)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=20)


def signed_in_note(page: Page, name: str = "Alice Andersson") -> Locator:
    """The Home page's "Listening as <name>" note (a locator: wait on it or read it)."""
    return page.get_by_test_id("stAlertContentSuccess").filter(has_text=f"Listening as {name}")


def sign_in(page: Page, name: str = "Alice Andersson") -> Locator:
    """Sign in from the Home page already open in ``page``: "Sign in with Spotify" -> the fake's
    consent page -> "Agree as <name>" -> back on the app; waits for and returns
    :func:`signed_in_note`. Each wait uses the page's default timeout."""
    page.get_by_role("link", name="Sign in with Spotify").click()
    page.get_by_text(f"Agree as {name}").click()
    note = signed_in_note(page, name)
    note.wait_for()
    return note
