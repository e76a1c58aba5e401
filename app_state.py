"""The app's one Streamlit-aware helper module: cached resources and per-session state.

Shared across sessions (``st.cache_resource``): the settings, the SQLite store, and the
recommender of the serving bundle with its catalogue search index — keyed by the version in
``models/CURRENT``, read on every run (a one-line file), so a refresh is picked up without a
restart. Per browser session (``st.session_state``): the Spotify token (through
``spotify.auth``), the :class:`~app_logic.Listener`, the listener's storage key, the
Recommendations controls and the list last shown. Never a Spotify client in a shared cache.
"""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd
import streamlit as st
from spotipy.exceptions import SpotifyException

import app_catalog
from app_logic import (
    KIND_SPOTIFY,
    Listener,
    RecControls,
    listener_from_history,
    recommend_args,
    spotify_refusal,
)
from engine.bundle.fetch import serving_bundle
from engine.bundle.layout import current_version
from engine.core.config import Settings
from engine.core.errors import BundleError
from engine.core.matching import CatalogIndex
from engine.serving.recommender import Recommender
from engine.serving.results import Recommendations
from engine.serving.taste import describe_clusters
from engine.state.events import (
    DISLIKE,
    LIKE,
    RECOMMENDED,
    SAVE,
    ListeningEvent,
    forget_user,
    write_events,
)
from engine.state.store import Event, Feedback, Store
from spotify.errors import AuthError, SpotifyError

logger = logging.getLogger(__name__)

K_LISTENER = "listener"
K_USER_KEY = "user_key"
K_CONTROLS = "rec_controls"
K_SHOWN = "shown_recs"
K_LOGGED = "logged_recs"
K_PLAYING = "playing"
K_SIGNIN_ERROR = "signin_error"
NO_MODEL = (
    "No model is available yet. Run `make run` (or `python -m engine prepare`) to build one, "
    "then reload this page."
)


# -- shared resources -------------------------------------------------------------------


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
    return Recommender(serving_bundle(settings()))


@st.cache_resource(show_spinner="Indexing the catalogue for search…", max_entries=2)
def _load_index(models_dir: str, version: str, _rec: Recommender) -> CatalogIndex:
    return CatalogIndex.from_items(_rec.bundle.items)


def _version_key() -> str:
    s = settings()
    return current_version(s.models_dir) or "demo"


def recommender() -> Recommender:
    """The recommender of the serving bundle; stops the page with a sentence when none loads."""
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


def cluster_labels() -> dict[int, str]:
    """Cluster id -> description from the bundle's centroids."""
    return describe_clusters(recommender().bundle.kmeans)


@st.cache_data(show_spinner=False, max_entries=4)
def _demo_tables_from_files(listeners_path: str, history_path: str, stamp: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    listeners = pd.read_parquet(listeners_path)
    history = pd.read_parquet(history_path, columns=["user_id", "track_id", "weight"])
    return listeners, history


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


# -- who is listening ---------------------------------------------------------------------


def user_key() -> str:
    """This session's storage key: a salted hash for Spotify listeners, else a random id."""
    if K_USER_KEY not in st.session_state:
        st.session_state[K_USER_KEY] = Store.new_session_key()
    return st.session_state[K_USER_KEY]


def current_listener() -> Listener | None:
    """The session's listener, if one was chosen on the Home page."""
    return st.session_state.get(K_LISTENER)


def set_listener(listener: Listener | None) -> None:
    """Switch listener: the shown list and the playing preview start over."""
    st.session_state[K_LISTENER] = listener
    for key in (K_SHOWN, K_LOGGED, K_PLAYING):
        st.session_state.pop(key, None)


def spotify_auth() -> Any | None:
    """This session's ``SpotifyAuth``, or None when no Spotify client id is configured."""
    from spotify.auth import AuthConfig, SpotifyAuth

    s = settings()
    if not s.spotify_client_id:
        return None
    return SpotifyAuth(AuthConfig.from_settings(s), st.session_state)


def finish_sign_in() -> None:
    """Complete a Spotify redirect, if this run is one: token, storage key, history, listener.

    Errors are kept for the Home page to show as a sentence; the query string is cleared
    either way so a reload does not replay a used code.
    """
    from spotify.auth import SpotifyAuth

    auth = spotify_auth()
    if auth is None or not SpotifyAuth.is_callback(st.query_params):
        return
    params = st.query_params.to_dict()
    st.query_params.clear()
    try:
        auth.handle_callback(params)
        load_spotify_listener(auth)
    except (SpotifyError, SpotifyException) as exc:
        st.session_state[K_SIGNIN_ERROR] = error_text(exc)


def load_spotify_listener(auth: Any) -> Listener:
    """Read the signed-in listener's history from Spotify and match it to the catalogue."""
    from spotify.history import fetch_history

    sp = auth.client()
    with st.spinner("Reading your Spotify history…"):
        me = sp.me()
        history = fetch_history(sp)
        listener = listener_from_history(history, catalog_index(), kind=KIND_SPOTIFY,
                                         label=me.get("display_name") or "Spotify listener")
    st.session_state[K_USER_KEY] = store().user_key_for(str(me["id"]))
    set_listener(listener)
    return listener


def reload_spotify_history() -> None:
    """Button callback: read the Spotify history again (errors kept for the Home page)."""
    auth = spotify_auth()
    try:
        if auth is not None:
            load_spotify_listener(auth)
    except (SpotifyError, SpotifyException) as exc:
        st.session_state[K_SIGNIN_ERROR] = error_text(exc)


def error_text(exc: Exception) -> str:
    """The sentence to show for a Spotify failure: ours as written, spotipy's 4xx translated."""
    if isinstance(exc, SpotifyException):
        return spotify_refusal(exc.http_status)
    return str(exc)


def sign_out() -> None:
    """Drop the token and the listener; the next data is stored under a fresh random key."""
    auth = spotify_auth()
    if auth is not None:
        auth.sign_out()
    set_listener(None)
    st.session_state[K_USER_KEY] = Store.new_session_key()


def forget_me() -> dict[str, int]:
    """Delete this listener's events, feedback and playlist records (SQLite and event files)."""
    key = user_key()
    counts = store().forget(key)
    counts["event_lines"] = forget_user(settings().events_dir, key)
    for k in (K_SHOWN, K_LOGGED):
        st.session_state.pop(k, None)
    return counts


# -- feedback and events --------------------------------------------------------------------


def log_events(kind: str, track_ids: list[str]) -> None:
    """Record events in SQLite and as one JSON-lines file for the engine's next refresh."""
    if not track_ids:
        return
    events = [ListeningEvent.new(user_key(), t, kind) for t in track_ids]
    try:
        store().add_events(Event(e.event_id, e.user_id, e.track_id, e.kind, e.weight, e.epoch) for e in events)
        write_events(settings().events_dir, events)
    except OSError as exc:  # a full or read-only disk must not break listening
        logger.warning("could not record %s events: %s", kind, exc)


def feedback() -> Feedback:
    """The listener's likes and dislikes."""
    return store().feedback(user_key())


def rate_track(track_id: str, value: int) -> None:
    """Like (1), dislike (-1) or clear (0) a track, and log the event."""
    store().set_feedback(user_key(), target="track", target_id=track_id, value=value)
    if value:
        log_events(LIKE if value > 0 else DISLIKE, [track_id])


def block_artist(artist: str) -> None:
    """Never recommend this artist (id or name) again for this listener."""
    store().set_feedback(user_key(), target="artist", target_id=artist, value=-1)


# -- recommendations --------------------------------------------------------------------


def controls() -> RecControls:
    """The Recommendations controls of this session (defaults until changed)."""
    return st.session_state.get(K_CONTROLS) or RecControls()


def set_controls(value: RecControls) -> None:
    st.session_state[K_CONTROLS] = value


def recommendations(listener: Listener) -> tuple[Recommendations, pd.DataFrame]:
    """Recommend with the session's controls and feedback; remember and log what is shown."""
    rec = recommender()
    history, kwargs = recommend_args(listener, controls(), feedback())
    result = rec.recommend(history, **kwargs)
    frame = rec.frame(result)
    frame["artist_ids"] = rec.bundle.items["artist_ids"].iloc[result.indices].tolist()
    st.session_state[K_SHOWN] = frame
    if st.session_state.get(K_LOGGED) != result.track_ids:
        st.session_state[K_LOGGED] = result.track_ids
        log_events(RECOMMENDED, list(result.track_ids))
    return result, frame


def shown_track_ids() -> list[str]:
    """The recommendations last shown in this session (empty before the first)."""
    frame = st.session_state.get(K_SHOWN)
    return [] if frame is None else frame["track_id"].tolist()


@st.cache_data(show_spinner=False, ttl=24 * 3600, max_entries=20_000)
def _artwork(track_id: str, _sp: Any) -> str | None:
    # Album art is public catalogue data, so one cache serves every session; the client is
    # per session and deliberately not part of the key.
    from spotify.history import track_info

    info = track_info(_sp.track(track_id))
    return info.image_url if info else None


def artwork(track_ids: list[str], listener: Listener, *, limit: int = 12) -> dict[str, str]:
    """Album-art URLs: from the listener's own history, else (signed in) from Spotify, first
    ``limit`` tracks only (one request each). Failures just leave the placeholder."""
    out = {t: listener.images[t] for t in track_ids if t in listener.images}
    auth = spotify_auth()
    if listener.kind != KIND_SPOTIFY or auth is None or not auth.is_signed_in():
        return out
    try:
        sp = auth.client()
        for t in [t for t in track_ids[:limit] if t not in out]:
            url = _artwork(t, sp)
            if url:
                out[t] = url
    except (SpotifyError, SpotifyException, OSError, ValueError) as exc:
        logger.info("artwork unavailable: %s", exc)
    return out


@st.cache_resource(show_spinner=False, max_entries=2)
def _catalogue_stats(version: str, _rec: Recommender) -> Any:
    from engine.serving.taste import catalogue_stats as compute

    b = _rec.bundle
    return compute(b.items, b.audio_features, b.kmeans)


def catalogue_stats() -> Any:
    """``engine.serving.taste.CatalogueStats`` of the serving bundle (once per version)."""
    rec = recommender()
    return _catalogue_stats(rec.version, rec)


def effective_history(listener: Listener) -> dict[str, float]:
    """The weights recommendations use: history plus picks and likes, minus dislikes."""
    history, _ = recommend_args(listener, controls(), feedback())
    return history


def playlist_tracks(listener: Listener, *, include_liked: bool) -> pd.DataFrame:
    """What the Playlists page shows and saves: liked songs (optional) then the recommendations."""
    _, frame = recommendations(listener)
    liked = sorted(feedback().liked_tracks - set(frame["track_id"])) if include_liked else []
    columns = ["track_id", "name", "artists", "year"]
    return pd.concat([app_catalog.tracks_frame(recommender(), liked)[columns], frame[columns]], ignore_index=True)


# -- catalogue lookups (app_catalog over the serving bundle) ----------------------------------


def search_tracks(query: str, *, limit: int = 8) -> list[tuple[str, str]]:
    """``(track_id, "Artist – Title (year)")`` pairs for a typed query, best first."""
    return app_catalog.search(recommender(), catalog_index(), query, limit=limit)


def labels_of(track_ids: list[str]) -> dict[str, str]:
    """Plain-text labels of catalogue tracks."""
    return app_catalog.labels_of(recommender(), track_ids)


def artists_of(track_ids: list[str]) -> list[str]:
    """The first artist (id, else name) of each chosen song."""
    return app_catalog.first_artists(recommender(), track_ids)


def similar(track_id: str, k: int) -> pd.DataFrame:
    """Neighbours of ``track_id`` as card rows: the live hybrid merged with the stored methods
    (``python -m engine similarity``: SQLite store, else the bundle's arrays)."""
    from engine.serving.similar_songs import stored_neighbours

    rec = recommender()
    stored = stored_neighbours(track_id, store=store(), extra=rec.bundle.extra, row=int(rec.index_of([track_id])[0]),
                               item_ids=rec.bundle.items["track_id"].to_numpy(dtype=object), limit=k)
    return app_catalog.neighbours_frame(rec, rec.similar(track_id, k), stored=stored, k=k)


def topic_labels(track_ids: list[str]) -> dict[str, str]:
    """LDA genre-topic label of each track that has one."""
    from engine.serving.similar_songs import topic_labels as labels

    return labels(track_ids, store=store(), tables=recommender().bundle.tables)


def save_to_spotify(track_ids: list[str], *, name: str, description: str, public: bool, new: bool) -> Any:
    """Create or update (the last one saved, unless ``new``) the listener's playlist; record it."""
    from spotify.playlists import save_playlist

    auth = spotify_auth()
    if auth is None or not auth.is_signed_in():
        raise AuthError("Sign in with Spotify on the Home page to save playlists.")
    previous = store().playlists(user_key())
    with st.spinner("Saving to Spotify…"):
        saved = save_playlist(auth.client(), track_ids, name=name, description=description, public=public,
                              playlist_id=None if new or not previous else previous[0].playlist_id)
    store().save_playlist(user_key(), playlist_id=saved.id, name=saved.name, url=saved.url,
                          n_tracks=saved.n_tracks, public=public)
    log_events(SAVE, track_ids)
    return saved


def saved_playlists() -> list[Any]:
    """Playlists the app saved for this listener, newest first."""
    return store().playlists(user_key())
