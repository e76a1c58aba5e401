"""What the pages' buttons and sections do, over the shared resources and this session.

Sign-in (finishing Spotify's redirect, reloading the history), sign-out and "Forget me";
recording events and likes/dislikes; the recommendations with this session's controls and
feedback; album art; saving playlists; catalogue and similar-songs lookups. Failures from
Spotify arrive as :class:`spotify.errors.SpotifyError` (never a spotipy exception), whose
text is a sentence to show. When the SQLite store cannot be written (another process holds
its lock past the busy timeout, a full disk), the click still works as far as it can and the
page says in a sentence what was not saved (:func:`_not_saved`), never a traceback.

A page run reads the stored likes once (:func:`feedback`) and builds the request once
(:func:`request`); the lists, their frame, "Why this?" and the editor's choices are kept in the
session with the inputs they came from (``session.remembered``), so a rerun that changes none
of them (a Play click, coming back to the page) recomputes nothing.
"""

from __future__ import annotations

import dataclasses
import logging
import sqlite3
from collections.abc import Mapping
from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from engine.serving.exclusions import Exclusions
from engine.serving.listens import Listens, listens_behind
from engine.serving.lists import FAMILIAR, NEW
from engine.serving.mixes import Mix, MixPlan, build_mix, plan_mixes
from engine.serving.options import Options
from engine.serving.results import Recommendations, TasteLists
from engine.serving.similar_songs import stored_neighbours
from engine.serving.similar_songs import topic_labels as labels
from engine.serving.taste import TasteProfile, taste_profile
from engine.state.events import (
    DISLIKE,
    EXCLUDE,
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
from spotify.history import fetch_profile_and_history
from spotify.playlists import save_playlist
from webapp import catalog, resources, run_memo, session
from webapp.cards import sign_in_html
from webapp.listeners import (
    KIND_SPOTIFY,
    Listener,
    listener_from_demo,
    listener_from_history,
    listener_from_seeds,
    recommend_request,
)
from webapp.mixes import MixMemo, mix_key, mix_request, playlists_to_update
from webapp.taste_edit import TasteRequest, artist_choices, build_request, newly_removed, taste_request, track_labels

if TYPE_CHECKING:
    from engine.state.store import SavedPlaylist as SavedRecord
    from spotify.playlists import SavedPlaylist

logger = logging.getLogger(__name__)


# -- signing in and out ----------------------------------------------------------------------


def finish_sign_in() -> None:
    """Complete a Spotify redirect, if this run is one: token, storage key, history, listener.

    The redirect back opens a new session, so the browser's binding cookie (written by the
    sign-in link's click) is what shows the sign-in started here; without it (a forwarded link,
    cookies blocked) nothing is signed in until the listener confirms the account on the Home
    page (:func:`confirm_sign_in`). Errors are kept for the Home page to show as a sentence;
    the query string is cleared either way so a reload does not replay a used code.
    """

    auth = session.spotify_auth()
    if auth is None or not SpotifyAuth.is_callback(st.query_params):
        return
    params = st.query_params.to_dict()
    st.query_params.clear()
    try:
        if auth.handle_callback(params, browser_nonce=st.context.cookies.get(auth.config.binding_cookie)):
            load_spotify_listener(auth)
    except SpotifyError as exc:
        session.set_signin_error(str(exc))


def sign_in_link(auth: SpotifyAuth) -> str:
    """The HTML of the "Sign in with Spotify" link (with its binding cookie; see cards.sign_in_html).

    Raises :class:`spotify.errors.AuthError` with a sentence when Spotify would refuse the
    configured redirect URI (``localhost``, plain http on a public host).
    """
    return sign_in_html(auth.authorize_url(), cookie=auth.config.binding_cookie, nonce=auth.binding_nonce(),
                        max_age=int(auth.config.state_ttl_s))


def confirm_sign_in() -> None:
    """Button callback: "Continue as <name>": the held-back sign-in becomes this session's."""
    auth = session.spotify_auth()
    try:
        if auth is not None:
            auth.confirm_pending()
            load_spotify_listener(auth)
    except SpotifyError as exc:
        session.set_signin_error(str(exc))


def decline_sign_in() -> None:
    """Button callback: "Not me": forget the held-back sign-in; nothing of it was used."""
    auth = session.spotify_auth()
    if auth is not None:
        auth.discard_pending()


def load_spotify_listener(auth: SpotifyAuth) -> Listener:
    """Read the signed-in listener's history from Spotify and match it to the catalogue."""

    sp = auth.client()
    with st.spinner("Reading your Spotify history…"):
        me, history = fetch_profile_and_history(sp)  # the profile read beside the history's, not before
        listener = listener_from_history(history, resources.catalog_index(), kind=KIND_SPOTIFY,
                                         label=me.get("display_name") or "Spotify listener")
    # Salted with APP_STATE_SECRET when set, so the key survives a lost app.sqlite (ephemeral disks).
    key = resources.store().user_key_for(str(me["id"]), secret=resources.settings().app_state_secret)
    session.set_user_key(key)
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


def use_demo_listener(user_id: str, name: str) -> None:
    """Button callback: listen as the demo listener ``user_id`` (before the page runs, so the
    run that follows the click already shows them: no second run)."""
    demo = resources.demo_tables()
    if demo is not None:
        session.set_listener(listener_from_demo(demo[1], user_id, name=name))


def use_seed_songs(track_ids: list[str], with_artists: bool) -> None:
    """Button callback: a listener made of the picked songs (and their first artists)."""
    session.set_seed_picks(list(track_ids))
    session.set_listener(listener_from_seeds(track_ids, artists_of(track_ids) if with_artists else []))


def forget_me() -> dict[str, int] | None:
    """Delete this listener's events, feedback and playlist records (SQLite and event files);
    None (and an error on the page) when the store or the files cannot be changed now."""
    key = session.user_key()
    try:
        counts = resources.store().forget(key)
        counts["event_lines"] = forget_user(resources.settings().events_dir, key)
    except (sqlite3.Error, OSError) as exc:
        logger.warning("forget me failed: %s", exc)
        st.error("Your data could not be deleted just now: the app's storage is busy or unavailable. "
                 "Nothing was changed; please try again in a minute.")
        return None
    session.forget_shown()
    session.forget_exclusions()
    run_memo.forget_run_value(_feedback_name())
    session.forget_remembered()
    return counts


# -- feedback and events --------------------------------------------------------------------

#: What each kind of event is, in the sentence that says it was not saved.
_EVENT_WORDS = {PLAY: "Your play", RECOMMENDED: "Which songs you were shown", LIKE: "Your like",
                DISLIKE: "Your dislike", SAVE: "The saved songs", EXCLUDE: "What you left out of your taste"}


def _not_saved(what: str, exc: BaseException) -> None:
    """Say on the page that ``what`` was not stored (the store or the disk failed), and log why."""
    logger.warning("%s was not saved: %s", what, exc)
    st.warning(f"{what} could not be saved just now: the app's storage is busy or unavailable. "
               "Everything else works; try again in a moment.")


def log_events(kind: str, track_ids: list[str]) -> None:
    """Record events in SQLite and as one JSON-lines file for the engine's next refresh (each
    on its own: one failing does not lose the other)."""
    if not track_ids:
        return
    events = [ListeningEvent.new(session.user_key(), t, kind) for t in track_ids]
    failed: BaseException | None = None
    try:
        resources.store().add_events(Event(e.event_id, e.user_id, e.track_id, e.kind, e.weight, e.epoch)
                                     for e in events)
    except sqlite3.Error as exc:  # a bulk writer holding the lock, a full disk
        failed = exc
    try:
        write_events(resources.settings().events_dir, events)
    except OSError as exc:  # a full or read-only disk must not break listening
        failed = exc
    if failed is not None:
        _not_saved(_EVENT_WORDS.get(kind, "The event"), failed)


def play(track_id: str) -> None:
    """Open the player on one card and log the preview."""
    session.set_playing(track_id)
    log_events(PLAY, [track_id])


def _feedback_name() -> str:
    return f"feedback:{session.user_key()}"


def feedback() -> Feedback:
    """The listener's likes and dislikes, read from the store once per page run (none, with one
    note, when the store cannot be read)."""
    return run_memo.once_per_run(_feedback_name(), _read_feedback)


def _read_feedback() -> Feedback:
    try:
        return resources.store().feedback(session.user_key())
    except sqlite3.Error as exc:
        logger.warning("feedback unreadable: %s", exc)
        st.warning("Your likes and dislikes could not be read just now, so this list does not use them.")
        return Feedback()


def rate_track(track_id: str, value: int) -> bool:
    """Like (1), dislike (-1) or clear (0) a track, and log the event; False when not saved."""
    try:
        resources.store().set_feedback(session.user_key(), target="track", target_id=track_id, value=value)
    except sqlite3.Error as exc:
        _not_saved(_EVENT_WORDS[LIKE if value > 0 else DISLIKE] if value else "Clearing your rating", exc)
        return False
    run_memo.forget_run_value(_feedback_name())
    if value:
        log_events(LIKE if value > 0 else DISLIKE, [track_id])
    return True


def block_artist(artist: str) -> bool:
    """Never recommend this artist (id or name) again for this listener; False when not saved."""
    try:
        resources.store().set_feedback(session.user_key(), target="artist", target_id=artist, value=-1)
    except sqlite3.Error as exc:
        _not_saved("Hiding this artist", exc)
        return False
    run_memo.forget_run_value(_feedback_name())
    return True


# -- recommendations --------------------------------------------------------------------


def request(listener: Listener) -> TasteRequest:
    """This session's request: the listener, the controls, the stored likes and the exclusions
    (``webapp.taste_edit.build_request``), built again only when one of them changed."""
    rec, fb, excl = resources.recommender(), feedback(), session.exclusions()
    controls = session.controls()
    # The list shown (``view``) does not change the request: switching lists re-ranks nothing.
    inputs = (dataclasses.replace(controls, view=""), fb, excl)
    return session.remembered("request", (rec, listener), inputs,
                              lambda: build_request(rec, listener, controls, fb, excl))


def taste_lists(listener: Listener) -> tuple[TasteLists, Recommendations, pd.DataFrame]:
    """The lists for the session's controls, feedback and exclusions, and the one the controls
    choose to show (``RecControls.view``) with its frame; remember and log what is shown."""
    rec, req, view = resources.recommender(), request(listener), session.controls().view
    lists = session.remembered("lists", (rec, listener, req), None, lambda: rec.lists(req.history, req.options))

    def shown() -> tuple[Recommendations, pd.DataFrame]:
        result = {FAMILIAR: lists.familiar, NEW: lists.new}.get(view, lists.blended)
        return result, rec.frame(result)

    result, frame = session.remembered("shown", (rec, listener, lists), view, shown)
    session.set_shown(frame)
    if session.mark_logged(result.track_ids):
        log_events(RECOMMENDED, list(result.track_ids))
    return lists, result, frame


def _mix_memo(listener: Listener) -> tuple[Mapping[str, float], Options, MixMemo]:
    """The history and options of the mixes (the lists' taste: likes, dislikes, hidden artists,
    exclusions; of the sidebar only the explicit filter), and this session's memo of them."""
    rec = resources.recommender()
    history, options, _ = taste_request(rec, listener, session.controls(), feedback(), session.exclusions())
    options = mix_request(options)
    return history, options, session.mix_memo(mix_key(rec.version, history, options))


def mix_plans(listener: Listener) -> tuple[MixPlan, ...]:
    """The listener's mixes by taste before their tracks (``engine.serving.mixes.plan_mixes``)."""
    history, _, memo = _mix_memo(listener)
    if memo.plans is None:
        memo.plans = plan_mixes(resources.recommender(), history, labels=resources.cluster_labels())
    return memo.plans


def taste_mix(listener: Listener, plan: MixPlan) -> Mix:
    """The tracks of one planned mix, built once per request (one or two lists requests)."""
    history, options, memo = _mix_memo(listener)
    if plan.cluster not in memo.built:
        memo.built[plan.cluster] = build_mix(resources.recommender(), history, plan, options)
    return memo.built[plan.cluster]


def recommendations(listener: Listener) -> tuple[Recommendations, pd.DataFrame]:
    """The list the Recommendations page shows (see :func:`taste_lists`) and its frame."""
    _, result, frame = taste_lists(listener)
    return result, frame


def effective_history(listener: Listener) -> Mapping[str, float]:
    """The weights recommendations use: history plus picks and likes, minus dislikes and exclusions."""
    return request(listener).history


def profile(listener: Listener) -> TasteProfile:
    """The Taste page's summary of :func:`effective_history` against the catalogue."""
    rec, req = resources.recommender(), request(listener)
    b = rec.bundle
    return session.remembered("profile", (rec, listener, req), None, lambda: taste_profile(
        b.items, b.audio_features, b.kmeans, req.history, catalogue=resources.catalog_stats()))


# -- the editable taste ---------------------------------------------------------------------


def taste_base(listener: Listener) -> dict[str, float]:
    """The history the listener can untick from: :func:`effective_history` before exclusions."""
    return dict(request(listener).base)


def taste_choices(listener: Listener) -> tuple[dict[str, str], dict[str, str]]:
    """What "Edit your taste" offers: the history's artists and songs (id -> label), heaviest
    artists first; made again only when the listener or their likes change."""
    rec, fb = resources.recommender(), feedback()

    def choices() -> tuple[dict[str, str], dict[str, str]]:
        base, _ = recommend_request(listener, session.controls(), fb)  # the history part ignores the controls
        return artist_choices(rec, base), track_labels(rec, list(base))

    return session.remembered("taste_choices", (rec, listener), fb, choices)


def listens(listener: Listener, track_ids: list[str]) -> dict[str, Listens]:
    """The listens behind each recommended track ("Why this?"), from the history it was made of."""
    rec, req = resources.recommender(), request(listener)
    plays = listener.timeline.plays() if listener.timeline is not None else None

    def behind() -> dict[str, Listens]:
        return {lst.track_id: lst for lst in listens_behind(rec, req.history, track_ids, plays=plays)}

    return session.remembered("listens", (rec, listener, req), tuple(track_ids), behind)


def set_exclusions(listener: Listener, value: Exclusions) -> None:
    """Store what the listener left out; each history track that leaves is logged as ``exclude``.

    Putting something back logs nothing (as clearing a dislike does): a later play or like of
    the track outweighs the exclusion in training.
    """
    rec, controls, fb = resources.recommender(), session.controls(), feedback()
    before = request(listener).edit
    after = build_request(rec, listener, controls, fb, value).edit
    session.set_exclusions(value)
    log_events(EXCLUDE, newly_removed(before, after))


def known_artwork(track_ids: list[str], listener: Listener) -> dict[str, str]:
    """Album-art URLs the listener's own history brought (no request to Spotify)."""
    return {t: listener.images[t] for t in track_ids if t in listener.images}


def artwork(track_ids: list[str], listener: Listener, *, limit: int = 12) -> dict[str, str]:
    """Album-art URLs: from the listener's own history, else (signed in) from Spotify, first
    ``limit`` tracks only (one request each, cached for every session: album art is public).
    Failures just leave the placeholder."""
    out = known_artwork(track_ids, listener)
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
                    new: bool, mix: bool = False) -> SavedPlaylist:
    """Create or update (the last one saved, unless ``new``) the listener's playlist; record it.

    A ``mix`` (``webapp.mixes``) updates the one saved under its name; any other list updates
    the last one saved that is not a mix, so the two never overwrite each other.
    """

    auth = session.spotify_auth()
    if auth is None or not auth.is_signed_in():
        raise AuthError("Sign in with Spotify on the Home page to save playlists.")
    store, key = resources.store(), session.user_key()
    try:
        previous = playlists_to_update(store.playlists(key), name=name, mix=mix)
    except sqlite3.Error as exc:  # no record of an earlier one: save a new playlist
        logger.warning("saved playlists could not be read: %s", exc)
        previous = []
    with st.spinner("Saving to Spotify…"):
        saved = save_playlist(auth.client(), track_ids, name=name, description=description, public=public,
                              playlist_id=None if new or not previous else previous[0].playlist_id)
    try:
        store.save_playlist(key, playlist_id=saved.id, name=saved.name, url=saved.url,
                            n_tracks=saved.n_tracks, public=public)
    except sqlite3.Error as exc:  # the playlist is on Spotify; only the app's note of it is missing
        _not_saved("The app's record of this playlist", exc)
    log_events(SAVE, track_ids)
    return saved


def saved_playlists() -> list[SavedRecord]:
    """Playlists the app saved for this listener, newest first (none, with a warning, when the
    app's storage cannot be read just now)."""
    try:
        return resources.store().playlists(session.user_key())
    except sqlite3.Error as exc:
        logger.warning("saved playlists could not be read: %s", exc)
        st.warning("Your saved playlists could not be read just now: the app's storage is busy or unavailable.")
        return []


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
