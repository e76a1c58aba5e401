"""What every session shares: the app's only ``st.cache_resource`` / ``st.cache_data`` calls.

The settings, the SQLite store, and the recommender of the serving bundle with its catalogue
search index, catalogue statistics and cluster labels — keyed by the version in
``models/CURRENT``, read on every run (a one-line file), so a refresh is picked up without a
restart. Also the demo listeners' tables and album-art URLs (public catalogue data). Never a
Spotify client or anything of one listener's in a shared cache: that lives in
:mod:`webapp.session`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import pandas as pd
import streamlit as st

from engine.bundle.fetch import serving_bundle
from engine.bundle.layout import current_version
from engine.core.config import Settings
from engine.core.errors import BundleError
from engine.core.matching import CatalogIndex
from engine.serving.recommender import Recommender
from engine.serving.taste import catalog_stats as compute
from engine.serving.taste import describe_clusters, map_sample
from engine.state.store import Store
from spotify.history import track_info
from webapp import run_memo
from webapp.charts import map_rows
from webapp.listeners import demo_label

if TYPE_CHECKING:
    from engine.serving.taste import CatalogStats
    from spotify.client import BoundedSpotify

logger = logging.getLogger(__name__)

NO_MODEL = (
    "No model is available yet. Run `make run` (or `python -m engine prepare`) to build one, "
    "then reload this page."
)


def _secret_overrides() -> dict[str, Any]:
    """Top-level scalar values of ``st.secrets`` (absent secrets file: none)."""
    try:
        return {k: v for k, v in st.secrets.to_dict().items() if isinstance(v, (str, int, float, bool))}
    except Exception:  # no secrets.toml anywhere: Streamlit raises; env/.env still apply
        return {}


@st.cache_resource(show_spinner=False)
def settings() -> Settings:
    """Settings from the environment, ``.env`` and ``st.secrets`` (secrets win), built once."""
    return Settings.from_env(overrides=_secret_overrides())


@st.cache_resource(show_spinner=False)
def store() -> Store:
    """The SQLite app store (WAL; one short connection per call, safe across sessions)."""
    return Store(settings().store_path)


@st.cache_resource(show_spinner="Loading the model…", max_entries=2)
def _load_recommender(models_dir: str, fallback_dir: str, version: str) -> Recommender:
    # ``version`` is only the cache key: a new CURRENT means a new entry (max 2 kept in memory).
    # No local bundle: MODEL_BUNDLE_URL (sha256-verified, cached on disk), else models/demo.
    config = settings()
    return Recommender(serving_bundle(config), quantize=config.serve_int8)


@st.cache_resource(show_spinner="Indexing the catalogue for search…", max_entries=2)
def _load_index(models_dir: str, version: str, _rec: Recommender) -> CatalogIndex:
    return CatalogIndex.from_items(_rec.bundle.items)


def _version_key() -> str:
    s = settings()
    return current_version(s.models_dir) or "demo"


def recommender() -> Recommender:
    """The recommender of the serving bundle; stops the page with a sentence when none loads.

    One per script run (:mod:`webapp.run_memo`): the Recommendations page asked for it 51 times
    per run (its cards, two or three times each), and each ask read ``CURRENT`` from disk and
    hashed the cache key. The page's server time, the demo listener in AppTest alternating with
    the code before (five runs each, one-off script), went from a median of 166 to 143 ms. A new
    ``CURRENT`` is served from the next run on, and a run never mixes two models."""
    return run_memo.once_per_run(_RUN_RECOMMENDER, _serving_recommender)


_RUN_RECOMMENDER = "recommender"


def _serving_recommender() -> Recommender:
    s = settings()
    try:
        return _load_recommender(str(s.models_dir), str(s.demo_bundle_dir), _version_key())
    except BundleError as exc:
        logger.warning("no bundle: %s", exc)
        st.error(NO_MODEL)
        st.stop()
        raise  # unreachable: st.stop() raises


def catalog_index() -> CatalogIndex:
    """Fuzzy artist/title search over the bundle's items (built once per version)."""
    rec = recommender()
    return _load_index(str(settings().models_dir), rec.version, rec)


@st.cache_data(show_spinner=False, max_entries=2)  # a copy per call: pages may not share one dict
def _cluster_labels(version: str, _rec: Recommender) -> dict[int, str]:
    return describe_clusters(_rec.bundle.kmeans)


def cluster_labels() -> dict[int, str]:
    """Cluster id -> description from the bundle's centroids (once per version)."""
    rec = recommender()
    return _cluster_labels(rec.version, rec)


@st.cache_resource(show_spinner=False, max_entries=2)
def _catalog_stats(version: str, _rec: Recommender) -> CatalogStats:

    b = _rec.bundle
    return compute(b.items, b.audio_features, b.kmeans)


def catalog_stats() -> CatalogStats:
    """The catalogue side of the taste page's comparisons (once per version)."""
    rec = recommender()
    return _catalog_stats(rec.version, rec)


@st.cache_resource(show_spinner=False, max_entries=10)
def _map_dots(version: str, n: int, _rec: Recommender) -> pd.DataFrame:
    return map_rows(map_sample(_rec.bundle.items, n=n, seed=0), describe_clusters(_rec.bundle.kmeans))


def map_dots(n: int) -> pd.DataFrame:
    """The Explore map's seeded sample of ``n`` catalogue tracks (``webapp.charts.map_rows``),
    made once per bundle version and size for every session (public catalogue data; it was
    0.1-0.2 s of every Explore visit). Shared: treat it as read-only."""
    rec = recommender()
    return _map_dots(rec.version, n, rec)


@st.cache_data(show_spinner=False, max_entries=4)
def _demo_tables_from_files(listeners_path: str, history_path: str, stamp: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    listeners = pd.read_parquet(listeners_path)
    history = pd.read_parquet(history_path, columns=["user_id", "track_id", "weight"])
    return listeners, history


@dataclass(frozen=True)
class DemoChoice:
    """One demo listener as the Home page offers it."""

    label: str  # "rock & 1970s soul · 35 tracks"
    name: str
    description: str


@st.cache_resource(show_spinner=False, max_entries=4)
def _demo_choices(version: str, stamp: float, _listeners: pd.DataFrame) -> Mapping[str, DemoChoice]:
    # Read-only and public (synthetic listeners): one mapping serves every session.
    out = {}
    for row in _listeners.to_dict("records"):
        user = str(row["user_id"])
        out[user] = DemoChoice(demo_label(row), str(row.get("display_name") or row.get("name") or user),
                               str(row.get("description") or ""))
    return MappingProxyType(out)


def demo_choices() -> Mapping[str, DemoChoice] | None:
    """The demo listeners for the Home page's picker (user id -> :class:`DemoChoice`), built
    once per bundle version and demo table, not on every rerun; None without demo listeners."""
    demo = demo_tables()
    if demo is None:
        return None
    return _demo_choices(recommender().version, _demo_stamp(), demo[0])


def _demo_stamp() -> float:
    """When the prepared demo tables last changed (0 when the bundle ships them)."""
    if "demo_listeners" in recommender().bundle.tables:
        return 0.0
    parquet = settings().parquet_dir
    paths = (parquet / "demo_listeners.parquet", parquet / "interactions_demo")
    return max((p.stat().st_mtime for p in paths if p.exists()), default=0.0)


def demo_tables() -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """The synthetic demo listeners and their histories (``user_id, track_id, weight``).

    From the serving bundle when it ships them (``tables/demo_listeners``, ``tables/demo_history``:
    they match its items exactly), else from ``python -m engine prepare``'s parquet files, else
    None (the Home page then offers seed songs only).
    """
    tables = recommender().bundle.tables
    if "demo_listeners" in tables and "demo_history" in tables:
        return tables["demo_listeners"], tables["demo_history"]
    parquet = settings().parquet_dir
    listeners, history = parquet / "demo_listeners.parquet", parquet / "interactions_demo"
    if not listeners.exists() or not history.exists():
        return None
    stamp = max(listeners.stat().st_mtime, history.stat().st_mtime)
    try:
        return _demo_tables_from_files(str(listeners), str(history), stamp)
    except Exception as exc:  # a half-written table must not break the Home page
        logger.warning("demo listeners unreadable: %s", exc)
        return None


@st.cache_data(show_spinner=False, ttl=24 * 3600, max_entries=20_000)
def artwork_url(track_id: str, _sp: BoundedSpotify) -> str | None:
    """The album-art URL of one track, asked of Spotify with a session's client ``_sp``.

    Album art is public catalogue data, so one cache serves every session; the client is per
    session and deliberately not part of the key.
    """

    info = track_info(_sp.track(track_id))
    return info.image_url if info else None
