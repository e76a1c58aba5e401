"""When another process holds the SQLite store's write lock, the pages say so in a sentence and
keep working (Recommendations, Like, Play); once the lock is gone, clicks are stored again."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.core.config import Settings
from engine.state.events import read_events
from engine.state.store import Store
from tests.app.helpers import open_page, pick_demo_listener, run, shown_ids, start

#: A real second writer: a process that takes the store's write lock and keeps it until stdin closes.
LOCKER = """
import sqlite3, sys
con = sqlite3.connect(sys.argv[1], isolation_level=None)
con.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.read()
"""
NOT_SAVED = "could not be saved just now: the app's storage is busy or unavailable"


@pytest.fixture()
def hold_lock() -> Iterator[object]:
    """A context: ``with hold_lock(path):`` the store's write lock is held by another process."""
    procs: list[subprocess.Popen[str]] = []

    class Holder:
        def __init__(self, path: Path) -> None:
            self.path = path

        def __enter__(self) -> None:
            proc = subprocess.Popen([sys.executable, "-c", LOCKER, str(self.path)], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, text=True)
            procs.append(proc)
            assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"

        def __exit__(self, *exc: object) -> None:
            proc = procs.pop()
            assert proc.stdin is not None
            proc.stdin.close()
            proc.wait(timeout=30)

    yield Holder
    for proc in procs:
        proc.kill()


def warnings_of(at) -> list[str]:
    return [w.value for w in at.warning]


def test_a_held_write_lock_gives_sentences_not_tracebacks(app_env: Settings, hold_lock, monkeypatch) -> None:
    monkeypatch.setattr(Store, "busy_timeout_s", 0.2)  # the app gives up after 0.2 s instead of 10
    at = pick_demo_listener(start())
    Store(app_env.store_path)  # the file exists; the page's own Store needs no write to open it
    with hold_lock(app_env.store_path):
        open_page(at, "recommendations")  # logging "recommended" fails; the list is still shown
        shown = shown_ids(at)
        assert shown and any(w.startswith("Which songs you were shown " + NOT_SAVED) for w in warnings_of(at))

        at.button(key=f"like-{shown[0]}").click()
        run(at)
        assert any(w.startswith("Your like " + NOT_SAVED) for w in warnings_of(at))
        assert not at.toast  # no "Liked …" when nothing was saved

        at.button(key=f"play-{shown[1]}").click()
        run(at)
        assert any(w.startswith("Your play " + NOT_SAVED) for w in warnings_of(at))
        assert at.get("iframe")  # the player still opens
    key = at.session_state["user_key"]
    store = Store(app_env.store_path)
    assert not store.feedback(key).liked_tracks and not store.events(key)
    # The events file does not need the lock: the play and the exposure still reach the engine.
    assert {"play", "recommended"} <= {e.kind for e in read_events(app_env.events_dir) if e.user_id == key}

    at.button(key=f"like-{shown[0]}").click()  # the lock is gone: stored, and no warning
    run(at)
    assert store.feedback(key).liked_tracks == {shown[0]}
    assert not [w for w in warnings_of(at) if NOT_SAVED in w]
