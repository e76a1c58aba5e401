"""Shared pytest fixtures: one SparkSession per test session, the shared data folder, settings.

Spark runs ``local[2]`` with 4 shuffle partitions. Tests that need ``../shared/data`` use the
``shared_data`` fixture, which skips with a reason when the folder is absent (a user's clone).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.core.config import Settings
from tests.jvm import JAVA_OPTIONS

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("SHARED_DATA_DIR", ROOT.parent / "shared" / "data"))
TEST_DATA = Path(__file__).resolve().parent / "data"

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")


@pytest.fixture(scope="session")
def spark():
    """The one SparkSession of the test run (local[2], 4 shuffle partitions)."""
    from engine.spark.session import get_spark

    settings = Settings.from_env({}, env_file=None).with_overrides(
        spark_master="local[2]", spark_driver_memory="2g", spark_shuffle_partitions=4
    )
    session = get_spark(
        settings,
        app_name="tests",
        # C1-only JIT with room for its code (tests/jvm.py): many small jobs, where warm-up dominates.
        extra_conf={"spark.ui.enabled": "false", "spark.driver.extraJavaOptions": JAVA_OPTIONS},
    )
    yield session
    session.stop()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data``; skips the test when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"needs the real datasets in {SHARED_DATA} (absent in a plain clone)")
    return SHARED_DATA


@pytest.fixture()
def settings(tmp_path: Path) -> Settings:
    """Settings whose data and models directories live in a fresh temporary directory."""
    (tmp_path / "data").mkdir()
    (tmp_path / "models").mkdir()
    return Settings.from_env({}, env_file=None).with_overrides(
        data_dir=tmp_path / "data",
        models_dir=tmp_path / "models",
        demo_bundle_dir=tmp_path / "models" / "demo",  # isolated from the repo's committed bundle
        spark_master="local[2]",
        spark_shuffle_partitions=4,
        app_state_secret="test-secret",
    )
