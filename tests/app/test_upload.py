"""The data-export upload on the Home page: hostile files give sentences, renamed files import."""

from __future__ import annotations

import re

from streamlit.testing.v1 import AppTest

from engine.core.config import Settings
from tests.app.helpers import run, start
from tests.conftest import TEST_DATA
from tests.spotify.hostile_exports import HOSTILE_FILES


def upload(at: AppTest, files: list[tuple[str, bytes]]) -> AppTest:
    at.file_uploader[0].set_value([(name, data, "application/octet-stream") for name, data in files])
    run(at)
    next(b for b in at.button if b.label == "Import my history").click()
    return run(at)


def unescaped(markdown: str) -> str:
    """The text of an ``md_escape``-d message (backslashes before punctuation dropped)."""
    return re.sub(r"\\(.)", r"\1", markdown)


def test_hostile_uploads_each_give_a_sentence_on_the_page(app_env: Settings) -> None:
    at = upload(start(), [file for file, _ in HOSTILE_FILES.values()])
    assert not at.exception and len(at.error) == 1
    shown = unescaped(at.error[0].value)
    assert shown.startswith("Could not read any streaming history: ")
    assert shown.endswith("Upload the zip Spotify sent you, or its StreamingHistory JSON files.")
    for sentence in (sentence for _, sentence in HOSTILE_FILES.values()):
        assert sentence in shown
    assert "\n" not in shown and "Traceback" not in shown


def test_a_renamed_history_file_imports_on_the_page(app_env: Settings) -> None:
    data = (TEST_DATA / "spotify" / "Streaming_History_Audio_2025-2026_0.json").read_bytes()
    at = upload(start(), [("endsong.json", data)])
    assert not at.error
    assert "Your data export" in at.success[0].value
