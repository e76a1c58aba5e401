"""Streamlit pieces every page draws: the sidebar status, the "choose a listener first" note,
and track cards with their buttons and players.

Text from Spotify or the catalogue reaches HTML only through :func:`webapp.cards.card_html` /
``placeholder_html``, which escape it; players are embedded only for Spotify-shaped ids.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import streamlit as st

from engine.bundle.layout import current_version
from engine.core.config import ConfigError
from spotify.ids import embed_url, track_url
from webapp import actions, resources, session
from webapp.cards import (
    CARD_CSS,
    card_html,
    md_escape,
    placeholder_html,
    reason_lines,
)
from webapp.listeners import Listener

EMBED_HEIGHT = 152  # Spotify's compact player


def _rate(track_id: str, value: int, title: str) -> None:
    if not actions.rate_track(track_id, value):
        return  # not saved: actions said so on the page
    title = md_escape(title)
    st.toast(f"Liked “{title}”: it joins your taste." if value > 0 else f"“{title}” will not come back.")


def _block(artist: str, name: str) -> None:
    if actions.block_artist(artist):
        st.toast(f"No more {md_escape(name)}.")


def card_styles() -> None:
    """The card CSS (once per page)."""
    st.html(CARD_CSS)


def track_card(
    row: Mapping[str, Any],
    *,
    verb: str,
    cluster_label: str | None,
    image: str | None,
    position: int,
    feedback_buttons: bool = True,
    show_player: bool = False,
) -> None:
    """One recommendation (a ``Recommender.frame`` row): cover, text, reasons, buttons, player."""
    track_id = str(row["track_id"])
    title = str(row.get("name") or "")
    artists = list(row.get("artists") or [])
    with st.container(border=True, key=f"card-{position}-{track_id}"):
        cover, body = st.columns([1, 4], vertical_alignment="top")
        with cover:
            if image:
                st.image(image, width="stretch")
            else:
                st.html(placeholder_html(title, row.get("cluster")))
        with body:
            lines = reason_lines(row, verb=verb, cluster_label=cluster_label)
            st.html(card_html(title=title, artists=artists, year=row.get("year"), lines=lines,
                              url=track_url(track_id)))
            url = embed_url(track_id)
            with st.container(horizontal=True, gap="small"):
                # Tertiary (text) buttons: all four fit on one line of a half-width card.
                if url and not show_player:
                    st.button("Play", key=f"play-{track_id}", icon=":material/play_arrow:", type="tertiary",
                              on_click=actions.play, args=(track_id,), help="Open Spotify's player here")
                if feedback_buttons:
                    st.button("Like", key=f"like-{track_id}", icon=":material/thumb_up:", type="tertiary",
                              on_click=_rate, args=(track_id, 1, title))
                    st.button("Dislike", key=f"dislike-{track_id}", icon=":material/thumb_down:", type="tertiary",
                              on_click=_rate, args=(track_id, -1, title))
                    if artists:
                        st.button("Hide artist", key=f"block-{track_id}", icon=":material/block:", type="tertiary",
                                  on_click=_block, args=(_artist_key(row), artists[0]))
            if url and (show_player or session.playing() == track_id):
                st.iframe(url, height=EMBED_HEIGHT)


def _artist_key(row: Mapping[str, Any]) -> str:
    """The first artist's id when the bundle has it (names can be shared), else the name."""
    ids = row.get("artist_ids")
    if ids is not None and len(ids) and ids[0]:
        return str(ids[0])
    return str(row["artists"][0])


def page_setup() -> Listener | None:
    """Run at the top of every page: check config, draw the sidebar status, return the listener."""
    try:
        settings = resources.settings()
    except ConfigError as exc:
        st.error(f"The app is misconfigured: {exc}. Fix the setting and restart.")
        st.stop()
    listener = session.listener()
    with st.sidebar:
        if listener is None:
            st.caption("No listener yet: start on the Home page.")
        else:
            st.caption(f"Listening as **{md_escape(listener.label)}**"
                       + (" (synthetic demo listener)" if listener.synthetic else ""))
        st.caption(f"Model: {current_version(settings.models_dir) or 'built-in demo bundle'}")
    return listener


def require_listener() -> Listener:
    """The listener, or a short note with a link to the Home page (and the page stops)."""
    listener = page_setup()
    if listener is None:
        st.info("Choose who is listening first: sign in with Spotify, pick a demo listener, or choose a few songs.")
        st.page_link("pages/home.py", label="Go to Home", icon=":material/home:")
        st.stop()
    return listener
