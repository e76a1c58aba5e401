"""One typed Settings object for the engine and the app.

Settings are read once from the process environment, after loading a ``.env`` file with
python-dotenv (variables already set in the environment win over ``.env``). The app may
add values from ``st.secrets`` by passing them as ``overrides``; the engine never imports
streamlit. Every variable is documented in ``.env.example``.

Secrets (the Spotify client secret, the state-signing secret) are excluded from ``repr`` so
they never reach logs or error messages.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

from engine.core.errors import EngineError

#: Confidence transforms accepted for ALS input weights.
WEIGHT_TRANSFORMS = ("raw", "log1p", "binary", "clip")

#: The repository root (engine/core/config.py -> three levels up).
ROOT = Path(__file__).resolve().parents[2]


class ConfigError(EngineError, ValueError):
    """A configuration value is missing or invalid; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    """Every knob of the engine and the app; build with :meth:`Settings.from_env`."""

    # Paths
    data_dir: Path = ROOT / "data"
    models_dir: Path = ROOT / "models"
    # The committed demo bundle, served when MODELS_DIR has no CURRENT (wherever MODELS_DIR
    # points: a Docker volume or a hosted app's empty folder still gets a model).
    demo_bundle_dir: Path = ROOT / "models" / "demo"
    # The real datasets `evaluate` and the tests read when present (HetRec, Audioscrobbler,
    # the catalogue slices); beside the checkout by default.
    shared_data_dir: Path = ROOT.parent / "shared" / "data"
    # Spark
    spark_master: str = "local[*]"
    spark_driver_memory: str = "4g"
    spark_shuffle_partitions: int = 8
    spark_checkpoint_dir: str = ""
    # ALS (implicit feedback)
    als_rank: int = 64
    als_max_iter: int = 10
    # Binary confidence, α 1, λ 0.3: best on the validation split of both HetRec and the demo
    # listeners (`python -m engine evaluate --grid`; log1p/α 10/λ 0.1 was 0.20 vs 0.25 NDCG@10).
    als_reg_param: float = 0.3
    als_alpha: float = 1.0
    als_weight_transform: str = "binary"
    als_weight_epsilon: float = 1.0
    als_weight_clip: float = 100.0
    als_seed: int = 42
    # Artist model (engine.training.artists): similar artists per artist and the weights of the
    # blend of co-listening, shared genres and collaborations (normalised by their sum)
    artist_similar_n: int = 50
    artist_weight_colistening: float = 0.6
    artist_weight_genres: float = 0.25
    artist_weight_collaborations: float = 0.15
    # KMeans over audio features
    kmeans_k: int = 12
    kmeans_seed: int = 42
    # Bundles
    keep_versions: int = 5
    # Spotify
    spotify_client_id: str = ""
    spotify_client_secret: str = field(default="", repr=False)
    spotify_redirect_uri: str = "http://127.0.0.1:8501/"
    spotify_api_base: str = "https://api.spotify.com/v1/"
    spotify_accounts_base: str = "https://accounts.spotify.com"
    app_state_secret: str = field(default="", repr=False)
    # Hosted deployments
    model_bundle_url: str = ""
    model_bundle_sha256: str = ""
    # Serving: the model pass over an int8 copy of the factors (engine.serving.quantized):
    # a faster model ranking for ~150-190 MiB more RSS at 600k items
    serve_int8: bool = False

    # -- derived paths -------------------------------------------------------------------
    @property
    def parquet_dir(self) -> Path:
        """Canonical parquet tables (tracks, artists, interactions)."""
        return self.data_dir / "parquet"

    @property
    def sample_dir(self) -> Path:
        """The small real catalogue slice that ships with the repo."""
        return self.data_dir / "sample"

    @property
    def rejects_dir(self) -> Path:
        """Where ingest writes the rows it could not use, with the reason."""
        return self.data_dir / "rejects"

    @property
    def events_dir(self) -> Path:
        """JSON-lines listening events written by the app, read by the engine."""
        return self.data_dir / "events"

    @property
    def store_path(self) -> Path:
        """SQLite file with the app's state (events, feedback, exports)."""
        return self.data_dir / "app.sqlite"

    # -- construction --------------------------------------------------------------------
    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        *,
        env_file: str | os.PathLike[str] | None = ROOT / ".env",
        overrides: Mapping[str, Any] | None = None,
    ) -> "Settings":
        """Build settings from ``env`` (default ``os.environ``) over an optional ``.env`` file.

        Variable names are the upper-cased field names (``ALS_RANK``, ``SPARK_MASTER``...).
        ``overrides`` (field name or variable name -> value) win over both, which is how the
        app passes ``st.secrets``. Raises :class:`ConfigError` naming the variable on a bad value.
        """
        values: dict[str, Any] = {}
        if env_file is not None and Path(env_file).is_file():
            values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
        values.update(os.environ if env is None else env)
        for key, value in (overrides or {}).items():
            values[key.upper()] = value
        kwargs: dict[str, Any] = {}
        for f in fields(cls):
            var = f.name.upper()
            if var not in values or values[var] in ("", None):
                continue
            kwargs[f.name] = _convert(var, values[var], f.default)
        settings = cls(**kwargs)
        settings.validate()
        return settings

    def with_overrides(self, **changes: Any) -> "Settings":
        """A copy with some fields replaced (validated)."""
        new = replace(self, **changes)
        new.validate()
        return new

    def validate(self) -> None:
        """Raise :class:`ConfigError` for values that cannot work."""
        if self.als_weight_transform not in WEIGHT_TRANSFORMS:
            raise ConfigError(
                f"ALS_WEIGHT_TRANSFORM={self.als_weight_transform!r} is not one of "
                f"{', '.join(WEIGHT_TRANSFORMS)}"
            )
        for name in ("als_rank", "als_max_iter", "kmeans_k", "keep_versions", "spark_shuffle_partitions"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name.upper()}={getattr(self, name)} must be at least 1")
        for name in ("als_reg_param", "als_alpha", "als_weight_epsilon", "als_weight_clip"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name.upper()}={getattr(self, name)} must be > 0")
        if self.artist_similar_n < 1:
            raise ConfigError(f"ARTIST_SIMILAR_N={self.artist_similar_n} must be at least 1")
        artist_weights = ("artist_weight_colistening", "artist_weight_genres", "artist_weight_collaborations")
        for name in artist_weights:
            if not getattr(self, name) >= 0:
                raise ConfigError(f"{name.upper()}={getattr(self, name)} must be >= 0")
        if not sum(getattr(self, name) for name in artist_weights) > 0:
            raise ConfigError("ARTIST_WEIGHT_COLISTENING, _GENRES and _COLLABORATIONS are all 0: one must be > 0")


def _convert(var: str, raw: Any, default: Any) -> Any:
    if not isinstance(raw, str):
        return raw
    text = raw.strip()
    try:
        if isinstance(default, bool):
            return text.lower() in ("1", "true", "yes", "on")
        if isinstance(default, int):
            return int(text)
        if isinstance(default, float):
            return float(text)
        if isinstance(default, Path):
            return Path(text).expanduser()
    except ValueError:
        raise ConfigError(f"{var}={text!r} is not a valid {type(default).__name__}") from None
    return text
