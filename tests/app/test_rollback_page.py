"""After ``python -m engine rollback`` the app serves the older version and the Model page lists
the rollback with the refresh rounds."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.bundle.publish import publish_bundle
from engine.core.config import Settings
from engine.refresh.rollback import rollback
from tests.app.conftest import seed_bundle_parts
from tests.app.helpers import open_page, start


def test_model_page_serves_and_lists_a_rollback(app_env: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    models = tmp_path / "models"
    parts = seed_bundle_parts()
    older = publish_bundle(models, **parts)
    newer = publish_bundle(models, **{**parts, "popularity": parts["popularity"] * 0.5})  # other content
    rollback(models, note="the newer one recommends one artist only")
    monkeypatch.setenv("MODELS_DIR", str(models))

    at = open_page(start(), "model")
    assert any(f"Version **{older}**" in m.value.replace("\\", "") for m in at.markdown)  # the rolled-back one serves
    history = next(f for f in (df.value for df in at.dataframe) if "decision" in f.columns)
    row = history.iloc[0]
    assert (row["decision"], row["serving_version"]) == ("rolled back", older)
    assert row["reason"] == f"rolled back from {newer} to {older}: the newer one recommends one artist only"
