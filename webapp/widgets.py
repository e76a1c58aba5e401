"""Streamlit pieces every page draws: the sidebar status, the "choose a listener first" note,
and track cards with their buttons and players.

Text from Spotify or the catalogue reaches HTML only through :func:`webapp.cards.card_html` /
``placeholder_html`` / ``cover_html``, which escape it (album art only from http(s) URLs);
players are embedded only for Spotify-shaped ids.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

import streamlit as st

from engine.bundle.layout import current_version
from engine.core.config import ConfigError
from engine.serving.listens import Listens
from engine.serving.mixes import Mix
from spotify.errors import SpotifyError
from spotify.ids import embed_url, is_spotify_id, track_url
from spotify.playlists import tracks_to_csv
from webapp import actions, mixes, resources, run_memo, session, taste_edit
from webapp.cards import (
    CARD_CSS,
    card_html,
    cover_html,
    md_escape,
    mix_list_html,
    placeholder_html,
    reason_lines,
)
from webapp.catalog import track_sound
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
    image: str | None,
    position: int,
    feedback_buttons: bool = True,
    show_player: bool = False,
    why: Listens | None = None,
) -> CardSlot:
    """One recommendation (a ``Recommender.frame`` row): cover, text, reasons (with the track's
    own sound, ``catalog.track_sound``) in one HTML block, buttons, player, and with ``why`` a
    "Why this?" popover of the listens behind it (:func:`why_this`). Returns the card, for
    :func:`set_cover` once the album art is known (the card is drawn without waiting for it)."""
    track_id = str(row["track_id"])
    title = str(row.get("name") or "")
    artists = list(row.get("artists") or [])
    with st.container(border=True, key=f"card-{position}-{track_id}"):
        lines = reason_lines(row, verb=verb, sound=track_sound(resources.recommender(), track_id))
        card = CardSlot(st.empty(), functools.partial(card_html, title=title, artists=artists, year=row.get("year"),
                                                      lines=lines, url=track_url(track_id)))
        card.show((cover_html(image) if image else None) or placeholder_html(title, row.get("cluster")))
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
            if why is not None and why.tracks:
                with st.popover("Why this?", icon=":material/help:", type="tertiary"):
                    why_this(why, key=f"why-{position}-{track_id}")
        if url and (show_player or session.playing() == track_id):
            st.iframe(url, height=EMBED_HEIGHT)
    return card


@dataclasses.dataclass(frozen=True)
class CardSlot:
    """A drawn card's text block (cover included) and what draws it again with another cover."""

    slot: Any
    text: Callable[..., str]  # card_html with everything but ``cover``

    def show(self, cover: str) -> None:
        """Draw the card's block with ``cover`` (escaped HTML: cover_html / placeholder_html)."""
        self.slot.html(self.text(cover=cover))


def set_cover(card: CardSlot, image: str) -> None:
    """Show album art on a drawn card (replacing the placeholder tile); a URL that is not
    ``http(s)`` leaves the placeholder."""
    cover = cover_html(image)
    if cover is not None:
        card.show(cover)


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
    run_memo.start_run()  # this run reads the store and the model's CURRENT afresh (webapp.run_memo)
    listener = session.listener()
    with st.sidebar:
        if listener is None:
            st.caption("No listener yet: start on the Home page.")
        else:
            st.caption(f"Listening as **{md_escape(listener.label)}**"
                       + (" (synthetic demo listener)" if listener.synthetic else ""))
        st.caption(f"Model: {md_escape(current_version(settings.models_dir) or 'built-in demo bundle')}")
    return listener


def require_listener() -> Listener:
    """The listener, or a short note with a link to the Home page (and the page stops)."""
    listener = page_setup()
    if listener is None:
        st.info("Choose who is listening first: sign in with Spotify, pick a demo listener, or choose a few songs.")
        st.page_link("pages/home.py", label="Go to Home", icon=":material/home:")
        st.stop()
    return listener


# -- the editable taste: "Why this?" and the editor ------------------------------------------
# The listener deselects / unticks what is not their taste; callbacks store it (actions.set_exclusions)
# before the page runs again, so the lists re-fold at once. Widget values are set from the
# session's exclusions before each widget is drawn, so the popovers and the editor agree.

TASTE_ARTISTS, TASTE_TRACKS, TASTE_DATES, TASTE_PERIODS = "taste_artists", "taste_tracks", "taste_dates", "taste_periods"


def why_this(listens: Listens, *, key: str) -> None:
    """The listens behind one card: its top history tracks and artists with their share of the
    score (listed + other = 100%), each a selected pill; deselecting one leaves it out of the taste.

    Two pill groups and a caption: three elements per card where a box per listen made ~12,
    i.e. ~200 of the ~520 the Recommendations page sent for 20 cards (each is a message the
    browser renders)."""
    listener = session.listener()
    songs = actions.taste_choices(listener)[1] if listener is not None else {}  # remembered: no lookup per card
    missing = [t.track_id for t in listens.tracks if t.track_id not in songs]
    labels = {**songs, **(taste_edit.track_labels(resources.recommender(), missing) if missing else {})}
    tracks = {t.track_id: f"{md_escape(labels.get(t.track_id, t.track_id))} · {taste_edit.listen_detail(t.weight, t.plays)}"
                          f" · {taste_edit.percent(listens, t.value)}" for t in listens.tracks}
    artists = {a.artist_id: f"{md_escape(a.name or a.artist_id)} · {a.tracks} of your songs · "
                            f"{taste_edit.percent(listens, a.value)}" for a in listens.artists}
    for what, box, shown, label in (("track", f"{key}-t", tracks, "The listens behind it (share of its score)"),
                                    ("artist", f"{key}-a", artists, "Artists")):
        if not shown:
            continue
        st.session_state[box] = list(shown)  # listed means it counts (a deselected one leaves the history)
        st.pills(label, list(shown), selection_mode="multi", key=box, format_func=shown.__getitem__,
                 on_change=_keep, args=(what, box, tuple(shown)))
    st.caption(f"Your other listens: {taste_edit.percent(listens, listens.other_tracks)}; other artists: "
               f"{taste_edit.percent(listens, listens.other_artists)}. Deselect what isn't you: the list re-folds "
               "without it.")


def _keep(what: str, box: str, listed: tuple[str, ...]) -> None:
    """Leave out of the taste every listed listen deselected in ``box`` (one re-fold)."""
    listener = session.listener()
    if listener is None:
        return
    kept = set(st.session_state.get(box) or ())
    excl = session.exclusions()
    for target in listed:
        if target not in kept:
            excl = excl.with_track(target, keep=False) if what == "track" else excl.with_artist(target, keep=False)
    actions.set_exclusions(listener, excl)


def taste_editor(listener: Listener) -> None:
    """"Edit your taste": leave out artists, songs and (when the history has times) dates, or
    put them back. One call on the Recommendations page, above the cards."""
    artists, songs = actions.taste_choices(listener)
    excl = session.exclusions()
    title = "Edit your taste" + (f" ({excl.summary()})" if excl else "")
    with st.expander(title, icon=":material/tune:"):
        st.caption("Leave out what isn't you (a party, a child's playlist, a phase) and the lists re-fold without "
                   "it. This stays in your browser session; \"Forget me\" clears it.")
        st.session_state[TASTE_ARTISTS] = [a for a in sorted(excl.artists) if a in artists]
        st.multiselect("Leave out artists", list(artists), format_func=artists.__getitem__, key=TASTE_ARTISTS,
                       on_change=_edit, args=(listener, TASTE_ARTISTS), placeholder="Search your artists")
        st.session_state[TASTE_TRACKS] = [t for t in sorted(excl.tracks) if t in songs]
        st.multiselect("Leave out songs", list(songs), format_func=songs.__getitem__, key=TASTE_TRACKS,
                       on_change=_edit, args=(listener, TASTE_TRACKS), placeholder="Search your songs")
        bounds = taste_edit.period_bounds(listener.timeline)
        if bounds is None:
            st.caption("This history has no listening times, so there are no dates to leave out.")
            return
        if bounds[0] < bounds[1]:
            picked = st.session_state.get(TASTE_DATES)
            if not (isinstance(picked, tuple) and bounds[0] <= picked[0] <= picked[1] <= bounds[1]):
                st.session_state[TASTE_DATES] = bounds
            st.slider("Listening dates", bounds[0], bounds[1], key=TASTE_DATES, format="YYYY-MM-DD")
        st.button("Leave out these dates", key="taste_add_period", icon=":material/event_busy:",
                  on_click=_add_period, args=(listener, bounds))
        if excl.periods:
            st.session_state[TASTE_PERIODS] = list(excl.periods)
            st.multiselect("Left-out dates (remove one to put it back)", list(excl.periods),
                           format_func=taste_edit.period_label, key=TASTE_PERIODS,
                           on_change=_edit, args=(listener, TASTE_PERIODS))


def _edit(listener: Listener, key: str) -> None:
    excl = session.exclusions()
    value = st.session_state[key]
    if key == TASTE_ARTISTS:
        excl = dataclasses.replace(excl, artists=frozenset(value))
    elif key == TASTE_TRACKS:
        excl = dataclasses.replace(excl, tracks=frozenset(value))
    else:
        excl = dataclasses.replace(excl, periods=tuple(value))
    actions.set_exclusions(listener, excl)


def _add_period(listener: Listener, bounds: tuple[date, date]) -> None:
    picked = st.session_state.get(TASTE_DATES) if bounds[0] < bounds[1] else None
    first, last = picked or bounds
    actions.set_exclusions(listener, session.exclusions().with_period(taste_edit.period_of(first, last), keep=False))


# -- mixes by taste ---------------------------------------------------------------------------


def mixes_section(listener: Listener) -> None:
    """"Mixes by taste" (``engine.serving.mixes``): one expander per mix with its name and share
    of the history; opened, its make-up, compact cards, a CSV download and, signed in, "Save to
    Spotify" (the Playlists page's save path; a mix replaces the one saved under its name).
    A mix's tracks are built only when its expander is open (the first one is, to begin with)."""
    st.subheader("Mixes by taste")
    plans = actions.mix_plans(listener)
    if not plans:
        st.caption(mixes.NO_MIXES)
        return
    st.caption(mixes.ABOUT)
    auth = session.spotify_auth()
    signed_in = auth is not None and auth.is_signed_in()
    rec = resources.recommender()
    for position, plan in enumerate(plans):
        with st.expander(md_escape(mixes.mix_title(plan)), icon=":material/album:", expanded=position == 0,
                         key=f"mix-{plan.cluster}", on_change="rerun") as box:
            if not box.open:
                continue
            mix = actions.taste_mix(listener, plan)
            if not len(mix):
                st.caption(mixes.EMPTY_MIX)
                continue
            frame = mixes.mix_frame(rec, mix)
            st.caption(md_escape(mixes.mix_caption(mix)))
            st.html(mix_list_html(frame.to_dict("records"), verb=listener.verb))
            with st.container(horizontal=True, gap="small"):
                st.download_button("Download CSV", tracks_to_csv(frame.to_dict("records")),
                                   file_name=f"mix-{mix.cluster}.csv", mime="text/csv", icon=":material/download:",
                                   key=f"mix-csv-{mix.cluster}")
                save = signed_in and st.button("Save to Spotify", key=f"mix-save-{mix.cluster}",
                                               icon=":material/library_add:")
            if not signed_in:
                st.caption("Sign in with Spotify on the Home page to save mixes in your account.")
            elif save:
                _save_mix(mix, [t for t in mix.tracks.track_ids if is_spotify_id(t)])


def _save_mix(mix: Mix, ids: list[str]) -> None:
    try:
        saved = actions.save_to_spotify(ids, name=mixes.playlist_name(mix), description=mixes.playlist_description(mix),
                                        public=False, new=False, mix=True)
    except (SpotifyError, ValueError) as exc:  # sentences: a refusal from Spotify, a bad name
        st.error(f"{md_escape(exc)} Nothing was saved.")
        return
    verb = "Created" if saved.created else "Updated"
    st.success(f"{verb} “{md_escape(saved.name)}” with {saved.n_tracks} songs.")
    st.link_button("Open in Spotify", saved.url, icon=":material/open_in_new:")
