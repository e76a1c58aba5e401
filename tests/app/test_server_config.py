"""The Streamlit server settings the app's latency depends on (``.streamlit/config.toml``)."""

from __future__ import annotations

import gc
import tomllib

from tests.app.conftest import ROOT


def test_no_full_garbage_collection_after_every_script_run() -> None:
    # Streamlit's default (runner.postScriptGC) is a gc.collect(2) after each run, with the GIL
    # held: over the bundle and the catalogue index that was 0.15-0.45 s a run in
    # bench/app_latency.py, and it delayed the frames of the run that had just ended.
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["runner"]["postScriptGC"] is False
    assert gc.isenabled()  # Python's own generational collector still runs
