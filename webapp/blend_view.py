"""The Recommendations page's "Blend" section: choose a second listener, see the taste match,
the list ranked for both with a badge on every card, and save it like any other list.

The second listener is a demo listener, a Spotify data export (read as the Home page reads
one, :func:`spotify.export_import.read_export`) or a share code another session made
(:mod:`webapp.share_code`). They live in this session only (``webapp.session.blend_partner``);
nothing of theirs is stored or logged. The maths is :mod:`engine.serving.together`, the words
and cards :mod:`webapp.blend_cards`.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from engine.serving.listens import listens_behind
from engine.serving.together import shared_list, taste_match
from spotify.errors import SpotifyError
from spotify.export_import import read_export
from spotify.ids import is_spotify_id
from spotify.playlists import tracks_to_csv
from webapp import actions, resources, session
from webapp.blend_cards import (
    BLEND_CSS,
    NO_NAME,
    blend_card_html,
    blend_frame,
    match_caption,
    partner_from_share,
    short_name,
    taste_key,
)
from webapp.cards import CARD_CSS, md_escape
from webapp.listeners import KIND_EXPORT, Listener, demo_label, listener_from_demo, listener_from_history
from webapp.share_code import MAX_ARTISTS, MAX_TRACKS, ShareCodec, ShareCodeError
from webapp.taste_edit import taste_request

SOURCE_DEMO, SOURCE_EXPORT, SOURCE_CODE = "A demo listener", "A data export", "A share code"


def blend_section(listener: Listener) -> None:
    """The whole section (one call at the end of the Recommendations page)."""
    st.divider()
    st.header("Blend", anchor="blend")
    st.caption("Blend your taste with someone else's: one list ranked for both of you, where every song is "
               "scored for each of you and neither is left out. Their taste stays in this browser session.")
    partner = session.blend_partner()
    with st.expander("Blend with…", expanded=partner is None, icon=":material/group:"):
        _choose_partner()
    with st.expander("Your share code", icon=":material/share:"):
        _share_code(listener)
    partner = session.blend_partner()
    if partner is not None:
        _show_blend(listener, partner)


def _choose_partner() -> None:
    source = st.segmented_control("Blend with", (SOURCE_DEMO, SOURCE_EXPORT, SOURCE_CODE), default=SOURCE_DEMO,
                                  key="blend_source", label_visibility="collapsed") or SOURCE_DEMO
    if source == SOURCE_DEMO:
        demo = resources.demo_tables()
        if demo is None:
            st.caption("The demo listeners have not been prepared here (`make run` builds them).")
            return
        rows = {str(r["user_id"]): r for r in demo[0].to_dict("records")}
        picked = st.selectbox("Demo listener (synthetic)", list(rows), key="blend_demo",
                              format_func=lambda u: f"{u} · {demo_label(rows[u])}")
        if st.button("Blend with this demo listener", key="blend_demo_go", type="primary"):
            name = rows[picked].get("display_name") or rows[picked].get("name") or picked
            session.set_blend_partner(listener_from_demo(demo[1], picked, name=str(name)))
    elif source == SOURCE_EXPORT:
        files = st.file_uploader("Their Spotify data export", type=["zip", "json"], accept_multiple_files=True,
                                 key="blend_export")
        name = st.text_input("Their name (optional)", key="blend_export_name", max_chars=40)
        if files and st.button("Blend with this export", key="blend_export_go", type="primary"):
            try:
                with st.spinner("Reading the streaming history…"):
                    result = read_export(files)
                    label = f"{' '.join(name.split()) or NO_NAME} (data export)"
                    session.set_blend_partner(listener_from_history(
                        result.history, resources.catalog_index(), kind=KIND_EXPORT, label=label))
            except SpotifyError as exc:
                st.error(f"{md_escape(exc)} Upload the zip Spotify sent, or its StreamingHistory JSON files.")
    else:
        code = st.text_area("Share code", key="blend_code", placeholder="mr1.…",
                            help="The code the other listener made under “Your share code” in their session.")
        if st.button("Blend with this code", key="blend_code_go", type="primary"):
            try:
                session.set_blend_partner(partner_from_share(_codec().read(code)))
            except ShareCodeError as exc:
                st.error(md_escape(exc))


def _codec() -> ShareCodec:
    return ShareCodec(resources.settings().app_state_secret)


def _share_code(listener: Listener) -> None:
    st.caption(f"Someone else can blend with you in their own session: your code carries your top {MAX_TRACKS} "
               f"songs and {MAX_ARTISTS} artists (and the name you type) to whoever holds it. The app stores "
               "nothing of it, so \"Forget me\" cannot take back a code you gave away; it stops working when it "
               "expires.")
    name = st.text_input("Your name on the code (optional)", key="blend_share_name", max_chars=40)
    if st.button("Make my share code", key="blend_share_make", icon=":material/key:"):
        history, _, _ = taste_request(resources.recommender(), listener, session.controls(), actions.feedback(),
                                      session.exclusions())
        codec = _codec()
        st.code(codec.make(history, name=name), language=None, wrap_lines=True)
        st.caption(f"Valid until {codec.expires_at():%Y-%m-%d %H:%M} UTC.")


def _show_blend(listener: Listener, partner: Listener) -> None:
    rec = resources.recommender()
    name = short_name(partner)
    top = st.columns([3, 1], vertical_alignment="center")
    top[0].markdown(f"Blending **you** with **{md_escape(partner.label)}**"
                    + (" (a synthetic demo listener)" if partner.synthetic else ""))
    top[1].button("Stop blending", key="blend_stop", on_click=session.set_blend_partner, args=(None,))
    history, options, _ = taste_request(rec, listener, session.controls(), actions.feedback(), session.exclusions())
    for who, taste in (("your", history), ("their", partner.history)):
        if not rec.artist_weights(taste).any():
            st.warning(f"None of {who} songs or artists are in the catalogue, so there is nothing to blend yet.")
            return
    key = (rec.version, taste_key(history), taste_key(partner.history), partner.label, options)
    found = session.last_blend(key)
    if found is None:
        with st.spinner("Blending…"):
            match = taste_match(rec, history, partner.history)
            shared = shared_list(rec, history, partner.history, options)
            ids = list(shared.track_ids)
            plays = listener.timeline.plays() if listener.timeline is not None else None
            frame = blend_frame(rec, shared, listens_behind(rec, history, ids, plays=plays),
                                listens_behind(rec, partner.history, ids), you=listener, partner=partner)
        session.set_last_blend(key, (match, frame))
    else:
        match, frame = found
    st.metric("Taste match", f"{match.percent:.0f}%", help="½ · how alike your folded-in taste vectors are "
              "+ ½ · how much of your artist shares you have in common (README: Blend).")
    st.caption(md_escape(match_caption(rec, match)))
    if not len(frame):
        st.warning("No songs pass these filters for both of you. Widen the era or energy range in the sidebar.")
        return
    _cards(frame)
    _save(frame, name)


def _cards(frame: pd.DataFrame) -> None:
    st.html(CARD_CSS + BLEND_CSS)
    for position, row in enumerate(frame.to_dict("records")):
        if position % 2 == 0:
            grid = st.columns(2)
        with grid[position % 2], st.container(border=True, key=f"blend-card-{position}-{row['track_id']}"):
            st.html(blend_card_html(row))


def _save(frame: pd.DataFrame, name: str) -> None:
    """Save the blend as any list is saved: CSV for everyone, a new Spotify playlist when signed in."""
    st.download_button("Download the blend as CSV", tracks_to_csv(frame.to_dict("records")), file_name="blend.csv",
                       mime="text/csv", icon=":material/download:", key="blend_csv")
    auth = session.spotify_auth()
    if auth is None or not auth.is_signed_in():
        st.caption("Sign in with Spotify on the Home page to save the blend as a playlist in your account.")
        return
    with st.form("save_blend"):
        title = st.text_input("Playlist name", value=f"Blend: you + {name}", max_chars=100, key="blend_pl_name")
        submitted = st.form_submit_button("Save the blend to Spotify", type="primary", icon=":material/library_add:")
    if not submitted:
        return
    ids = [t for t in frame["track_id"] if is_spotify_id(t)]
    try:
        saved = actions.save_to_spotify(ids, name=title.strip() or f"Blend: you + {name}",
                                        description="A blend made by the music recommender", public=False, new=True)
    except (SpotifyError, ValueError) as exc:  # sentences: a refusal from Spotify, a bad name
        st.error(f"{md_escape(exc)} Nothing was saved.")
        return
    st.success(f"Created “{md_escape(saved.name)}” with {saved.n_tracks} songs.")
    st.link_button("Open in Spotify", saved.url, icon=":material/open_in_new:")
