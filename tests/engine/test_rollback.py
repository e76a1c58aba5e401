"""``python -m engine rollback``: CURRENT back to a kept version, atomically, logged; bad targets refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.__main__ import main as cli_main
from engine.bundle.layout import current_version, list_versions
from engine.bundle.publish import publish_bundle
from engine.core.locking import FileLock
from engine.refresh.round import LOCK_FILE
from engine.state.refresh_log import read_log
from tests.factories import random_bundle_parts


@pytest.fixture()
def models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, list[str]]:
    """Three published versions (oldest first); the newest serves."""
    models_dir = tmp_path / "models"
    versions = [publish_bundle(models_dir, **random_bundle_parts(n_items=40, seed=seed)) for seed in (1, 2, 3)]
    monkeypatch.setenv("MODELS_DIR", str(models_dir))
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    assert list_versions(models_dir) == versions and current_version(models_dir) == versions[-1]
    return models_dir, versions


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, err
    return err


def test_rollback_serves_the_previous_version_and_logs_it(models, capsys) -> None:
    models_dir, (v1, v2, v3) = models
    assert cli_main(["rollback", "--note", "v3 recommends only one artist"]) == 0
    assert current_version(models_dir) == v2
    assert f"rolled back from {v3} to {v2}" in capsys.readouterr().out
    assert cli_main(["rollback"]) == 0  # and once more: the one before that
    assert current_version(models_dir) == v1
    assert cli_main(["rollback", v3]) == 0  # any kept version, newer ones too
    assert current_version(models_dir) == v3
    log = read_log(models_dir)
    assert [(r["decision"], r["current_version"], r["serving_version"]) for r in log] == [
        ("rolled back", v3, v2), ("rolled back", v2, v1), ("rolled back", v1, v3)]
    assert log[0]["reason"] == f"rolled back from {v3} to {v2}: v3 recommends only one artist"
    assert not [p for p in models_dir.iterdir() if p.name.startswith(".") and "CURRENT" in p.name]  # no temp left


def test_unknown_corrupt_or_missing_targets_are_refused_in_one_line(models, capsys) -> None:
    models_dir, (v1, v2, v3) = models
    for bad, says in (("20990101T000000Z-deadbeef", "no such version"), ("../elsewhere", "not a version name"),
                      (v3, "already the serving version")):
        assert cli_main(["rollback", bad]) == 2
        assert says in one_error_line(capsys)
    factors = models_dir / v2 / "item_factors.npy"
    np.save(factors, np.zeros((40, 8), dtype=np.float32))  # damaged after publishing
    assert cli_main(["rollback"]) == 2
    err = one_error_line(capsys)
    assert f"refusing to serve {v2}" in err and "item_factors.npy" in err and "sha256" in err
    assert current_version(models_dir) == v3 and read_log(models_dir) == []  # nothing changed, nothing logged

    assert cli_main(["rollback", v1]) == 0
    assert cli_main(["rollback"]) == 2  # v1 is the oldest: nothing before it
    assert "nothing to roll back to" in one_error_line(capsys)


def test_rollback_waits_for_no_refresh(models, capsys) -> None:
    models_dir, (_, _, v3) = models
    with FileLock(models_dir / LOCK_FILE, purpose="refresh", heartbeat_s=0):
        assert cli_main(["rollback"]) == 2
        assert "(refresh)" in one_error_line(capsys)
    assert current_version(models_dir) == v3
    assert cli_main(["rollback", "--list"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"* {v3}"
