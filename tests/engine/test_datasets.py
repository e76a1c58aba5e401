"""Where evaluate looks for the raw datasets (engine.evaluation.datasets), without Spark."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.core.config import Settings
from engine.core.errors import InputError
from engine.evaluation.datasets import need_raw, raw_data_dirs


def test_an_empty_data_raw_does_not_hide_the_shared_datasets(tmp_path: Path) -> None:
    (tmp_path / "data" / "raw").mkdir(parents=True)  # exists, but holds nothing
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "hetrec2011_user_artists.dat.gz").write_bytes(b"x")
    settings = Settings.from_env({}, env_file=None).with_overrides(data_dir=tmp_path / "data", shared_data_dir=shared)
    dirs = raw_data_dirs(settings, None)
    assert dirs == [tmp_path / "data" / "raw", shared]
    assert need_raw(dirs, "hetrec2011_user_artists.dat.gz", "hetrec2011_user_artists.dat") == shared / "hetrec2011_user_artists.dat.gz"
    # a file in data/raw wins over the shared one
    (tmp_path / "data" / "raw" / "hetrec2011_user_artists.dat").write_bytes(b"y")
    assert need_raw(dirs, "hetrec2011_user_artists.dat.gz", "hetrec2011_user_artists.dat") == (
        tmp_path / "data" / "raw" / "hetrec2011_user_artists.dat"
    )
    # --data-dir alone when given, and a missing file names the folders it tried
    with pytest.raises(InputError, match=r"user_artist_data\.txt not found in .*elsewhere"):
        need_raw(raw_data_dirs(settings, tmp_path / "elsewhere"), "user_artist_data.txt")
