"""The Playlists page's "Extend a playlist" part (Streamlit glue over :mod:`webapp.extend`).

Signed in with Spotify: the listener's own playlists (:mod:`spotify.own_playlists`) -> one is
read and folded in -> continuations with what each fits -> tick -> **Add to this playlist**
(appended on Spotify) or **Save as a new playlist** (the playlist and the ticked songs, saved
through :func:`webapp.actions.save_to_spotify` like every list of the app). Without Spotify: a
pasted list or an uploaded CSV, and the extended list as a CSV download (the path every list
has for people without an account). Either way the proposals come from
:func:`engine.serving.continuation.continue_playlist`, with the listener's dislikes left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePath

import pandas as pd
import streamlit as st

from engine.serving.continuation import Continuation, continue_playlist
from engine.state.events import SAVE
from spotify.auth import SpotifyAuth
from spotify.errors import SpotifyError
from spotify.ids import is_open_spotify_url
from spotify.own_playlists import append_tracks, list_playlists, read_playlist
from spotify.playlists import tracks_to_csv
from webapp import actions, catalog, extend, resources, session
from webapp.cards import md_escape
from webapp.listeners import Listener

MODES = ("Save your recommendations", "Extend a playlist")
K_MODE, K_PLAYLIST, K_PASTE, K_CSV, K_NAME = "ext_mode", "ext_playlist", "ext_paste", "ext_csv", "ext_new_name"
PICK_PREFIX = "ext_pick_"
EXAMPLE_SONGS = 10


def chosen() -> bool:
    """The page's two parts as a switch at its top; True when "Extend a playlist" is chosen."""
    mode = st.segmented_control("What to do", MODES, default=MODES[0], key=K_MODE, label_visibility="collapsed")
    return mode == MODES[1]


def section(listener: Listener) -> None:
    """Everything of "Extend a playlist" (one call on the Playlists page)."""
    st.subheader("Extend a playlist")
    st.caption("The model proposes songs that continue the playlist — its artists, its sound and its era — and "
               "says which of these each one fits. Tick the ones you want.")
    note = session.pop_extend_note()  # what the last click did, shown once
    if note:
        ok, text, url = note
        (st.success if ok else st.error)(text)
        if url and is_open_spotify_url(url):
            st.link_button("Open in Spotify", url, icon=":material/open_in_new:")
    auth = session.spotify_auth()
    signed_in = auth is not None and auth.is_signed_in()
    source = _spotify_source(auth) if signed_in and auth is not None else _pasted_source(listener)
    if source is not None:
        _continuations(source, auth if signed_in else None)


# -- where the playlist comes from ---------------------------------------------------------------


def _forget_playlists() -> None:
    session.set_own_playlists(None)
    session.set_playlist_read(None)


def _spotify_source(auth: SpotifyAuth) -> extend.Source | None:
    playlists = session.own_playlists()
    if playlists is None:
        try:
            with st.spinner("Reading your playlists…"):
                playlists = list_playlists(auth.client())
        except SpotifyError as exc:
            st.error(f"{md_escape(exc)} Your playlists could not be read.")
            return None
        session.set_own_playlists(playlists)
    if not playlists:
        st.info("You have no playlists of your own on Spotify yet (playlists you only follow cannot be extended). "
                "Make one there, or save your recommendations as one first.")
        st.button("Read my playlists again", key="ext_reload", on_click=_forget_playlists)
        return None
    by_id = {p.id: p for p in playlists}
    picked = st.selectbox("Your playlist", list(by_id), format_func=lambda i: by_id[i].label, key=K_PLAYLIST)
    st.button("Read my playlists again", key="ext_reload", on_click=_forget_playlists, type="tertiary",
              icon=":material/refresh:")
    playlist = by_id.get(picked) or playlists[0]
    key = f"{playlist.id}:{playlist.snapshot_id}"
    contents = session.playlist_read(key)
    if contents is None:
        try:
            with st.spinner(f"Reading “{md_escape(playlist.name)}”…"):
                contents = read_playlist(auth.client(), playlist.id)
        except SpotifyError as exc:
            st.error(f"{md_escape(exc)} This playlist could not be read.")
            return None
        session.set_playlist_read(key, contents)
    skipped = contents.skipped_sentence()
    return extend.Source(name=playlist.name, entries=tuple(extend.entry_of(t) for t in contents.tracks),
                         playlist_id=playlist.id, editable=True, url=playlist.url,
                         problems=(skipped,) if skipped else ())


def _example(listener: Listener) -> None:
    """Button callback: fill the list with some of the listener's songs, to try it."""
    rec = resources.recommender()
    ranked = sorted(listener.history, key=lambda t: -listener.history[t])[:EXAMPLE_SONGS]
    frame = catalog.tracks_frame(rec, ranked or list(listener.seed_tracks)[:EXAMPLE_SONGS])
    st.session_state[K_PASTE] = "\n".join(f"{(list(a) or ['?'])[0]} – {n}" for a, n in zip(frame["artists"], frame["name"]))


def _pasted_source(listener: Listener) -> extend.Source | None:
    st.caption("Paste a playlist — one song a line, “Artist – Title” or a Spotify track link — or upload a CSV "
               "(this app's export, or one from Exportify). Sign in with Spotify on the Home page to extend your "
               "Spotify playlists themselves.")
    if listener.history or listener.seed_tracks:
        st.button(f"Try it with {EXAMPLE_SONGS} of {md_escape(listener.label)}'s songs", key="ext_example",
                  on_click=_example, args=(listener,), icon=":material/playlist_add:")
    text = st.text_area("Your playlist", key=K_PASTE, height=180, max_chars=extend.MAX_PASTE_CHARS,
                        placeholder="Daft Punk – One More Time\nhttps://open.spotify.com/track/…")
    upload = st.file_uploader("…or a CSV file", type=["csv"], key=K_CSV)
    if upload is not None:
        name = PurePath(upload.name).stem or "Your playlist"
        entries, problems = extend.parse_csv(upload.getvalue(), filename=upload.name)
    else:
        name = "Your playlist"
        entries, problems = extend.parse_pasted(text or "")
    if not entries:
        for problem in problems:
            st.warning(md_escape(problem))
        return None
    return extend.Source(name=name, entries=tuple(entries), problems=tuple(problems))


# -- the continuations --------------------------------------------------------------------------


def _continuations(source: extend.Source, auth: SpotifyAuth | None) -> None:
    rec = resources.recommender()
    matched = extend.match_entries(source.entries, resources.catalog_index())
    feedback = actions.feedback()
    result = continue_playlist(rec, matched.playlist, k=extend.N_PICKS, exclude_ids=sorted(feedback.disliked_tracks),
                               exclude_artists=sorted(feedback.disliked_artists))
    labels = resources.cluster_labels()
    n = len(source.entries)
    st.caption(f"**{md_escape(source.name)}**: {n:,} song{'s' if n != 1 else ''}, {md_escape(matched.match.sentence)} "
               f"({md_escape(matched.match.breakdown)}).")
    for problem in source.problems:
        st.caption(md_escape(problem))
    st.caption(md_escape(extend.profile_sentence(result.profile, labels)))
    if not result.picks:
        st.warning("The catalogue knows none of these songs or their artists, so there is nothing to continue "
                   "from yet. Try a playlist with better-known songs.")
        return
    frame = rec.frame(result.recommendations())
    for pick, row in zip(result.picks, frame.to_dict("records")):
        year = int(row["year"]) if row["year"] and row["year"] > 0 else None
        label = f"{row['name']} — {', '.join(row['artists'])}" + (f" ({year})" if year else "")
        st.checkbox(md_escape(label), key=PICK_PREFIX + pick.track_id)
        st.caption(md_escape(" · ".join(extend.pick_lines(pick, result.profile, labels, row["because"]))))
    ticked = [p.track_id for p in result.picks if st.session_state.get(PICK_PREFIX + p.track_id)]
    _save_buttons(source, result, frame, ticked, auth)


def _save_buttons(source: extend.Source, result: Continuation, frame: pd.DataFrame, ticked: Sequence[str],
                  auth: SpotifyAuth | None) -> None:
    chosen_rows = frame[frame["track_id"].isin(ticked)] if ticked else frame
    csv_rows = extend.entry_rows(source.entries) + chosen_rows[["track_id", "name", "artists"]].to_dict("records")
    st.caption(f"{len(ticked)} ticked." if ticked else "Tick the songs you want to add.")
    with st.container(horizontal=True):
        if auth is not None and source.playlist_id:
            if st.button("Add to this playlist", key="ext_add", type="primary", icon=":material/playlist_add:",
                         disabled=not ticked or not source.editable):
                _append(auth, source, list(ticked))
        st.download_button("Download the extended playlist (CSV)", tracks_to_csv(csv_rows),
                           file_name=f"{PurePath(source.name).name or 'playlist'} (extended).csv", mime="text/csv",
                           icon=":material/download:", key="ext_csv_download",
                           help="The playlist's songs, then the ticked ones (every proposal while none is ticked).")
    if auth is None:
        st.info("Sign in with Spotify on the Home page to add these songs to a playlist in your account. "
                "Anyone can download the CSV.")
        return
    with st.form("ext_save_new", border=False):
        # One key per playlist: a keyed widget keeps its text, and another playlist needs its own name.
        name = st.text_input("Name of the new playlist", value=extend.extended_name(source.name), max_chars=100,
                             key=f"{K_NAME}-{source.playlist_id}")
        save = st.form_submit_button("Save as a new playlist", icon=":material/library_add:")
    if save:
        ids = extend.spotify_ids(source.entries) + [t for t in ticked if t not in set(extend.spotify_ids(source.entries))]
        try:
            saved = actions.save_to_spotify(ids, name=name.strip() or extend.extended_name(source.name),
                                            description=f"“{source.name}” and {len(ticked)} songs that continue it, "
                                                        "made by the music recommender", public=False, new=True)
        except (SpotifyError, ValueError) as exc:
            session.set_extend_note(False, f"{md_escape(exc)} Nothing was saved.")
        else:
            session.set_extend_note(True, f"Created “{md_escape(saved.name)}” with {saved.n_tracks} songs.", saved.url)
            _forget_playlists()  # the new playlist is one of theirs now
        st.rerun()


def _append(auth: SpotifyAuth, source: extend.Source, ticked: list[str]) -> None:
    """Append the ticked songs to the Spotify playlist, note the result, and read the playlist again."""
    try:
        with st.spinner("Adding to Spotify…"):
            append_tracks(auth.client(), str(source.playlist_id), ticked)
    except SpotifyError as exc:
        session.set_extend_note(False, f"{md_escape(exc)} Nothing was added.")
    else:
        n = len(ticked)
        session.set_extend_note(True, f"Added {n} song{'s' if n != 1 else ''} to “{md_escape(source.name)}”.",
                                source.url)
        actions.log_events(SAVE, ticked)
    _forget_playlists()  # its snapshot changed: read it again (the added songs are no longer proposed)
    st.rerun()
