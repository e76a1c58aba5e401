"""What the pages' buttons and sections do, over the shared resources and this session.

Sign-in (finishing Spotify's redirect, reloading the history), sign-out and "Forget me";
recording events and likes/dislikes; the recommendations with this session's controls and
feedback; album art; saving playlists; catalogue and similar-songs lookups. Failures from
Spotify arrive as :class:`spotify.errors.SpotifyError` (never a spotipy exception), whose
text is a sentence to show.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from engine.serving.lists import FAMILIAR, NEW
from engine.serving.results import Recommendations, TasteLists
from engine.serving.similar_songs import stored_neighbours
from engine.serving.similar_songs import topic_labels as labels
from engine.state.events import (
    DISLIKE,
    LIKE,
    PLAY,
    RECOMMENDED,
    SAVE,
    ListeningEvent,
    forget_user,
    write_events,
)
from engine.state.store import Event, Feedback
from spotify.auth import SpotifyAuth
from spotify.errors import AuthError, SpotifyError
from spotify.history import fetch_history
from spotify.playlists import save_playlist
from webapp import catalog, resources, session
from webapp.listeners import (
    KIND_SPOTIFY,
    Listener,
    listener_from_history,
    recommend_request,
)

if TYPE_CHECKING:
    from engine.state.store import SavedPlaylist as SavedRecord
    from spotify.playlists import SavedPlaylist

logger = logging.getLogger(__name__)


# -- signing in and out ----------------------------------------------------------------------


def finish_sign_in() -> None:
    """Complete a Spotify redirect, if this run is one: token, storage key, history, listener.

    Errors are kept for the Home page to show as a sentence; the query string is cleared
    either way so a reload does not replay a used code.
    """

    auth = session.spotify_auth()
    if auth is None or not SpotifyAuth.is_callback(st.query_params):
        return
    params = st.query_params.to_dict()
    st.query_params.clear()
    try:
        auth.handle_callback(params)
        load_spotify_listener(auth)
    except SpotifyError as exc:
        session.set_signin_error(str(exc))


def load_spotify_listener(auth: SpotifyAuth) -> Listener:
    """Read the signed-in listener's history from Spotify and match it to the catalogue."""

    sp = auth.client()
    with st.spinner("Reading your Spotify history…"):
        me = sp.me()
        history = fetch_history(sp)
        listener = listener_from_history(history, resources.catalog_index(), kind=KIND_SPOTIFY,
                                         label=me.get("display_name") or "Spotify listener")
    session.set_user_key(resources.store().user_key_for(str(me["id"])))
    session.set_listener(listener)
    return listener


def reload_spotify_history() -> None:
    """Button callback: read the Spotify history again (errors kept for the Home page)."""
    auth = session.spotify_auth()
    try:
        if auth is not None:
            load_spotify_listener(auth)
    except SpotifyError as exc:
        session.set_signin_error(str(exc))


def sign_out() -> None:
    """Drop the token and the listener; the next data is stored under a fresh random key."""
    auth = session.spotify_auth()
    if auth is not None:
        auth.sign_out()
    session.set_listener(None)
    session.new_user_key()


def forget_me() -> dict[str, int]:
    """Delete this listener's events, feedback and playlist records (SQLite and event files)."""
    key = session.user_key()
    counts = resources.store().forget(key)
    counts["event_lines"] = forget_user(resources.settings().events_dir, key)
    session.forget_shown()
    return counts


# -- feedback and events --------------------------------------------------------------------


def log_events(kind: str, track_ids: list[str]) -> None:
    """Record events in SQLite and as one JSON-lines file for the engine's next refresh."""
    if not track_ids:
        return
    events = [ListeningEvent.new(session.user_key(), t, kind) for t in track_ids]
    try:
        resources.store().add_events(Event(e.event_id, e.user_id, e.track_id, e.kind, e.weight, e.epoch)
                                     for e in events)
        write_events(resources.settings().events_dir, events)
    except OSError as exc:  # a full or read-only disk must not break listening
        logger.warning("could not record %s events: %s", kind, exc)


def play(track_id: str) -> None:
    """Open the player on one card and log the preview."""
    session.set_playing(track_id)
    log_events(PLAY, [track_id])


def feedback() -> Feedback:
    """The listener's likes and dislikes."""
    return resources.store().feedback(session.user_key())


def rate_track(track_id: str, value: int) -> None:
    """Like (1), dislike (-1) or clear (0) a track, and log the event."""
    resources.store().set_feedback(session.user_key(), target="track", target_id=track_id, value=value)
    if value:
        log_events(LIKE if value > 0 else DISLIKE, [track_id])


def block_artist(artist: str) -> None:
    """Never recommend this artist (id or name) again for this listener."""
    resources.store().set_feedback(session.user_key(), target="artist", target_id=artist, value=-1)


# -- recommendations --------------------------------------------------------------------


def taste_lists(listener: Listener) -> tuple[TasteLists, Recommendations, pd.DataFrame]:
    """The lists for the session's controls and feedback, and the one the controls choose to
    show (``RecControls.view``) with its frame; remember and log what is shown."""
    rec = resources.recommender()
    controls = session.controls()
    history, options = recommend_request(listener, controls, feedback())
    lists = rec.lists(history, options)
    result = {FAMILIAR: lists.familiar, NEW: lists.new}.get(controls.view, lists.blended)
    frame = rec.frame(result)
    session.set_shown(frame)
    if session.mark_logged(result.track_ids):
        log_events(RECOMMENDED, list(result.track_ids))
    return lists, result, frame


def recommendations(listener: Listener) -> tuple[Recommendations, pd.DataFrame]:
    """The list the Recommendations page shows (see :func:`taste_lists`) and its frame."""
    _, result, frame = taste_lists(listener)
    return result, frame


def effective_history(listener: Listener) -> dict[str, float]:
    """The weights recommendations use: history plus picks and likes, minus dislikes."""
    history, _ = recommend_request(listener, session.controls(), feedback())
    return dict(history)


def artwork(track_ids: list[str], listener: Listener, *, limit: int = 12) -> dict[str, str]:
    """Album-art URLs: from the listener's own history, else (signed in) from Spotify, first
    ``limit`` tracks only (one request each). Failures just leave the placeholder."""
    out = {t: listener.images[t] for t in track_ids if t in listener.images}
    auth = session.spotify_auth()
    if listener.kind != KIND_SPOTIFY or auth is None or not auth.is_signed_in():
        return out
    try:
        sp = auth.client()
        for t in [t for t in track_ids[:limit] if t not in out]:
            url = resources.artwork_url(t, sp)
            if url:
                out[t] = url
    except (SpotifyError, OSError, ValueError) as exc:
        logger.info("artwork unavailable: %s", exc)
    return out


def playlist_tracks(listener: Listener, *, include_liked: bool) -> pd.DataFrame:
    """What the Playlists page shows and saves: liked songs (optional) then the recommendations."""
    _, frame = recommendations(listener)
    liked = sorted(feedback().liked_tracks - set(frame["track_id"])) if include_liked else []
    columns = ["track_id", "name", "artists", "year"]
    return pd.concat([catalog.tracks_frame(resources.recommender(), liked)[columns], frame[columns]],
                     ignore_index=True)


def save_to_spotify(track_ids: list[str], *, name: str, description: str, public: bool,
                    new: bool) -> SavedPlaylist:
    """Create or update (the last one saved, unless ``new``) the listener's playlist; record it."""

    auth = session.spotify_auth()
    if auth is None or not auth.is_signed_in():
        raise AuthError("Sign in with Spotify on the Home page to save playlists.")
    store, key = resources.store(), session.user_key()
    previous = store.playlists(key)
    with st.spinner("Saving to Spotify…"):
        saved = save_playlist(auth.client(), track_ids, name=name, description=description, public=public,
                              playlist_id=None if new or not previous else previous[0].playlist_id)
    store.save_playlist(key, playlist_id=saved.id, name=saved.name, url=saved.url,
                        n_tracks=saved.n_tracks, public=public)
    log_events(SAVE, track_ids)
    return saved


def saved_playlists() -> list[SavedRecord]:
    """Playlists the app saved for this listener, newest first."""
    return resources.store().playlists(session.user_key())


# -- catalogue lookups (webapp.catalog over the serving bundle) -------------------------------


def search_tracks(query: str, *, limit: int = 8) -> list[tuple[str, str]]:
    """``(track_id, "Artist – Title (year)")`` pairs for a typed query, best first."""
    return catalog.search(resources.recommender(), resources.catalog_index(), query, limit=limit)


def labels_of(track_ids: list[str]) -> dict[str, str]:
    """Plain-text labels of catalogue tracks."""
    return catalog.labels_of(resources.recommender(), track_ids)


def artists_of(track_ids: list[str]) -> list[str]:
    """The first artist (id, else name) of each chosen song."""
    return catalog.first_artists(resources.recommender(), track_ids)


def similar(track_id: str, k: int) -> pd.DataFrame:
    """Neighbours of ``track_id`` as card rows: the live hybrid merged with the stored methods
    (``python -m engine similarity``: SQLite store, else the bundle's arrays)."""

    rec = resources.recommender()
    stored = stored_neighbours(track_id, store=resources.store(), extra=rec.bundle.extra,
                               row=int(rec.index_of([track_id])[0]),
                               item_ids=rec.bundle.items["track_id"].to_numpy(dtype=object), limit=k)
    return catalog.neighbours_frame(rec, rec.similar(track_id, k), stored=stored, k=k)


def topic_labels(track_ids: list[str]) -> dict[str, str]:
    """LDA genre-topic label of each track that has one."""

    return labels(track_ids, store=resources.store(), tables=resources.recommender().bundle.tables)
