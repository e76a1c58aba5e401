from pathlib import Path

import pytest

from engine.core.config import ConfigError, Settings


def test_env_values_are_typed_and_override_defaults(tmp_path: Path) -> None:
    s = Settings.from_env({"ALS_RANK": "32", "ALS_ALPHA": "2.5", "DATA_DIR": str(tmp_path)}, env_file=None)
    assert s.als_rank == 32 and s.als_alpha == 2.5 and s.data_dir == tmp_path
    assert s.parquet_dir == tmp_path / "parquet"


def test_dotenv_file_is_read_but_environment_wins(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("ALS_RANK=16\nKMEANS_K=7\n")
    s = Settings.from_env({"ALS_RANK": "8"}, env_file=env_file)
    assert s.als_rank == 8 and s.kmeans_k == 7


def test_bad_value_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="ALS_RANK='many'"):
        Settings.from_env({"ALS_RANK": "many"}, env_file=None)
    with pytest.raises(ConfigError, match="ALS_WEIGHT_TRANSFORM"):
        Settings.from_env({"ALS_WEIGHT_TRANSFORM": "sqrt"}, env_file=None)


def test_secrets_never_appear_in_repr() -> None:
    s = Settings.from_env(
        {"SPOTIFY_CLIENT_SECRET": "s3cr3t-value", "APP_STATE_SECRET": "other-secret"}, env_file=None
    )
    assert s.spotify_client_secret == "s3cr3t-value"
    assert "s3cr3t-value" not in repr(s) and "other-secret" not in repr(s)


def test_overrides_win_over_env() -> None:
    s = Settings.from_env({"SPOTIFY_CLIENT_ID": "env"}, env_file=None, overrides={"spotify_client_id": "secrets"})
    assert s.spotify_client_id == "secrets"


def test_env_example_documents_every_setting() -> None:
    from dataclasses import fields

    from engine.core.config import ROOT

    text = (ROOT / ".env.example").read_text()
    documented = {line.split("=", 1)[0] for line in text.splitlines() if "=" in line and not line.startswith("#")}
    assert {f.name.upper() for f in fields(Settings)} == documented


def test_serve_int8_is_off_unless_set() -> None:
    assert Settings.from_env({}, env_file=None).serve_int8 is False
    assert Settings.from_env({"SERVE_INT8": "true"}, env_file=None).serve_int8 is True
    assert Settings.from_env({"SERVE_INT8": "0"}, env_file=None).serve_int8 is False
