"""The one owner of this app's ``st.session_state`` keys, behind small typed accessors.

Per browser session: the :class:`~webapp.listeners.Listener`, the listener's storage key,
the Recommendations controls, the list last shown (and last logged), the track whose player
is open, a sign-in error waiting to be shown, the songs picked on the Home page, what the
listener unticked of their taste, the second listener of a Blend, the last mixes by taste,
their own Spotify playlists while extending one, and the Spotify sign-in (:func:`spotify_auth`,
whose token ``spotify.auth`` keeps in the same mapping). Pages index ``st.session_state`` only
for their own widget keys.

Two memos keep a rerun from redoing work, both per session (one listener's results never sit
in a cache shared by every visitor): :mod:`webapp.run_memo` (what this script run already read,
such as the stored likes; its own module, and its own key, because the cached resources below
this module use it too) and :func:`remembered` (results kept across runs with the inputs they
were made from, recomputed only when an input differs).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, MutableMapping
from typing import Any, TypeVar, cast

import pandas as pd
import streamlit as st

from engine.serving.exclusions import Exclusions
from engine.serving.together import TasteMatch
from engine.state.store import Store
from spotify.auth import AuthConfig, SpotifyAuth
from spotify.own_playlists import OwnPlaylist, PlaylistContents
from webapp import resources
from webapp.listeners import Listener, RecControls
from webapp.mixes import MixMemo

K_LISTENER = "listener"
K_USER_KEY = "user_key"
K_CONTROLS = "rec_controls"
K_SHOWN = "shown_recs"
K_LOGGED = "logged_recs"
K_PLAYING = "playing"
K_SIGNIN_ERROR = "signin_error"
K_SEED_PICKS = "seed_picks"
K_REMEMBERED = "remembered"

T = TypeVar("T")


# -- who is listening ---------------------------------------------------------------------


def user_key() -> str:
    """This session's storage key: a salted hash for Spotify listeners, else a random id."""
    if K_USER_KEY not in st.session_state:
        st.session_state[K_USER_KEY] = Store.new_session_key()
    return str(st.session_state[K_USER_KEY])


def set_user_key(key: str) -> None:
    """Store what follows under ``key`` (a Spotify account's salted hash)."""
    st.session_state[K_USER_KEY] = key


def new_user_key() -> None:
    """Start a fresh random storage key (after signing out)."""
    st.session_state[K_USER_KEY] = Store.new_session_key()


def listener() -> Listener | None:
    """The session's listener, if one was chosen on the Home page."""
    return st.session_state.get(K_LISTENER)


def set_listener(value: Listener | None) -> None:
    """Switch listener: the shown list, the playing preview and remembered results start over."""
    st.session_state[K_LISTENER] = value
    for key in (K_SHOWN, K_LOGGED, K_PLAYING, K_MIXES, K_REMEMBERED):  # remembered results hold the old listener
        st.session_state.pop(key, None)


def spotify_auth() -> SpotifyAuth | None:
    """This session's Spotify sign-in, or None when no Spotify client id is configured."""

    s = resources.settings()
    if not s.spotify_client_id:
        return None
    # The token lives in this session's state (spotify.auth's own "spotify_" keys); the proxy
    # is typed MutableMapping[str | int, Any], the keys used are strings.
    return SpotifyAuth(AuthConfig.from_settings(s), cast(MutableMapping[str, Any], st.session_state))


def set_signin_error(text: str) -> None:
    """Keep a sign-in failure for the Home page to show."""
    st.session_state[K_SIGNIN_ERROR] = text


def pop_signin_error() -> str | None:
    """The sign-in failure waiting to be shown (once), if any."""
    return st.session_state.pop(K_SIGNIN_ERROR, None)


def seed_picks() -> list[str]:
    """The songs picked on the Home page so far (a copy)."""
    return list(st.session_state.get(K_SEED_PICKS, []))


def add_seed_pick(track_id: str) -> None:
    """Add one song to the picks (kept once)."""
    picks = seed_picks()
    if track_id not in picks:
        st.session_state[K_SEED_PICKS] = [*picks, track_id]


def set_seed_picks(track_ids: list[str]) -> None:
    """Replace the picks (the ones kept when the listener is made of them)."""
    st.session_state[K_SEED_PICKS] = list(track_ids)


# -- recommendations --------------------------------------------------------------------


def controls() -> RecControls:
    """The Recommendations controls of this session (defaults until changed)."""
    return st.session_state.get(K_CONTROLS) or RecControls()


def set_controls(value: RecControls) -> None:
    """Remember the Recommendations controls between pages."""
    st.session_state[K_CONTROLS] = value


def shown() -> pd.DataFrame | None:
    """The recommendations table last shown in this session (None before the first)."""
    return st.session_state.get(K_SHOWN)


def set_shown(frame: pd.DataFrame) -> None:
    st.session_state[K_SHOWN] = frame


def shown_track_ids() -> list[str]:
    """The recommendations last shown in this session (empty before the first)."""
    frame = shown()
    return [] if frame is None else frame["track_id"].tolist()


def mark_logged(track_ids: tuple[str, ...]) -> bool:
    """Remember ``track_ids`` as the list last logged; False when it already was (no new event)."""
    if st.session_state.get(K_LOGGED) == track_ids:
        return False
    st.session_state[K_LOGGED] = track_ids
    return True


def forget_shown() -> None:
    """Drop the shown and logged lists and the mixes (after "Forget me")."""
    for key in (K_SHOWN, K_LOGGED, K_MIXES):
        st.session_state.pop(key, None)


def playing() -> str | None:
    """The track whose player is open on the cards, if any."""
    return st.session_state.get(K_PLAYING)


def set_playing(track_id: str) -> None:
    st.session_state[K_PLAYING] = track_id


# -- the editable taste -------------------------------------------------------------------
# What the listener unticked (engine.serving.exclusions), for this app session only (never stored
# as such; each track that leaves is logged as an exclude event). Kept with the listener it
# belongs to, so switching listener starts from nothing.

K_EXCLUSIONS = "taste_exclusions"


def _taste_owner() -> str:
    who = listener()
    return "" if who is None else f"{user_key()}|{who.kind}|{who.label}"


def exclusions() -> Exclusions:
    """What the current listener left out of their taste (nothing until they untick)."""
    owner, value = st.session_state.get(K_EXCLUSIONS, ("", Exclusions()))
    return value if owner == _taste_owner() else Exclusions()


def set_exclusions(value: Exclusions) -> None:
    """Replace the current listener's exclusions."""
    st.session_state[K_EXCLUSIONS] = (_taste_owner(), value)


def forget_exclusions() -> None:
    """Drop every exclusion (after "Forget me")."""
    st.session_state.pop(K_EXCLUSIONS, None)


# -- the Blend ------------------------------------------------------------------------------
# The second listener of a Blend (a demo listener, a data export or a share code), for this
# browser session only: their taste is never stored, and a share code carries it itself.

K_BLEND_PARTNER = "blend_partner"
K_BLEND_LAST = "blend_last"


def blend_partner() -> Listener | None:
    """The listener blended with the session's listener, if one was chosen."""
    return st.session_state.get(K_BLEND_PARTNER)


def set_blend_partner(value: Listener | None) -> None:
    """Blend with ``value`` (None: stop blending)."""
    st.session_state[K_BLEND_PARTNER] = value


def last_blend(key: Hashable) -> tuple[TasteMatch, pd.DataFrame] | None:
    """The Blend last computed in this session, when it was computed for ``key`` (the two
    tastes and the request): a click elsewhere on the page does not blend again."""
    found = st.session_state.get(K_BLEND_LAST)
    return found[1] if found is not None and found[0] == key else None


def set_last_blend(key: Hashable, value: tuple[TasteMatch, pd.DataFrame]) -> None:
    """Remember the Blend computed for ``key`` (one at a time)."""
    st.session_state[K_BLEND_LAST] = (key, value)


# -- mixes by taste -----------------------------------------------------------------------
# The plans and the mixes built of the last request (webapp.mixes.MixMemo), so that a click
# that leaves the taste as it was (a preview, a page switch) rebuilds nothing: each mix costs
# one or two lists requests.

K_MIXES = "taste_mixes"


def mix_memo(request: Hashable) -> MixMemo:
    """The memo of ``request`` (a hashable key of the whole request): the kept one when the
    last request was the same, else a new empty one that replaces it."""
    kept = st.session_state.get(K_MIXES)
    if kept is not None and kept[0] == request:
        return cast(MixMemo, kept[1])
    memo = MixMemo()
    st.session_state[K_MIXES] = (request, memo)
    return memo


# -- extending a playlist -------------------------------------------------------------------
# The listener's own Spotify playlists and the one being extended are account data: their
# keys carry spotify.auth's prefix, so signing out drops them with the token.

K_OWN_PLAYLISTS = "spotify_own_playlists"
K_PLAYLIST_READ = "spotify_playlist_read"


def own_playlists() -> list[OwnPlaylist] | None:
    """The listener's own playlists as last listed, None before."""
    return st.session_state.get(K_OWN_PLAYLISTS)


def set_own_playlists(value: list[OwnPlaylist] | None) -> None:
    """Remember (or, with None, forget) the listed playlists."""
    if value is None:
        st.session_state.pop(K_OWN_PLAYLISTS, None)
    else:
        st.session_state[K_OWN_PLAYLISTS] = list(value)


def playlist_read(key: str) -> PlaylistContents | None:
    """The contents read for ``key`` (playlist id and snapshot), None when another one was read last."""
    found = st.session_state.get(K_PLAYLIST_READ)
    return found[1] if found and found[0] == key else None


def set_playlist_read(key: str | None, value: PlaylistContents | None = None) -> None:
    """Keep one playlist's contents (the last one read); None forgets it (after appending to it)."""
    if key is None:
        st.session_state.pop(K_PLAYLIST_READ, None)
    else:
        st.session_state[K_PLAYLIST_READ] = (key, value)


K_EXTEND_NOTE = "extend_note"


def set_extend_note(ok: bool, text: str, url: str | None = None) -> None:
    """What the last "Add to this playlist" / "Save as a new playlist" click did (Markdown-escaped text)."""
    st.session_state[K_EXTEND_NOTE] = (ok, text, url)


def pop_extend_note() -> tuple[bool, str, str | None] | None:
    """That note, once (the page shows it after the rerun the click starts)."""
    return st.session_state.pop(K_EXTEND_NOTE, None)


# -- memo: per inputs, across runs (once per run: webapp.run_memo) ------------------------------------------


def remembered(name: str, owners: tuple[object, ...], key: Hashable, compute: Callable[[], T]) -> T:
    """The last result for ``name`` when it was made from the same inputs, else ``compute()``.

    ``owners`` are compared by identity (the recommender of one bundle version, the listener
    object of this session: a new one is new inputs even when equal), ``key`` by equality
    (controls, likes, exclusions, ...). One result per name is kept; treat it as read-only.
    """
    memo = st.session_state.setdefault(K_REMEMBERED, {})
    entry = memo.get(name)
    if entry is not None and len(entry[0]) == len(owners) and all(a is b for a, b in zip(entry[0], owners)) \
            and entry[1] == key:
        return cast(T, entry[2])
    value = compute()
    memo[name] = (owners, key, value)
    return value


def forget_remembered() -> None:
    """Drop every remembered result (after "Forget me")."""
    st.session_state.pop(K_REMEMBERED, None)
