"""Home / connect: sign in with Spotify, try the demo, or upload a Spotify data export."""

import streamlit as st

from spotify.errors import SpotifyError
from spotify.export_import import read_export
from webapp import actions, resources, session, widgets
from webapp.cards import md_escape
from webapp.listeners import KIND_EXPORT, listener_from_history
from webapp.model_info import about_bundle, model_sentence

actions.finish_sign_in()
listener = widgets.page_setup()
auth = session.spotify_auth()
st.title("Your music, your next songs")
bundle = resources.recommender().bundle  # what the serving bundle holds, from its manifest
st.write(md_escape(model_sentence(about_bundle(bundle, demo_dir=resources.settings().demo_bundle_dir))))
if error := session.pop_signin_error():
    st.error(md_escape(error))  # may quote the query string: never render it as Markdown
if auth and (account := auth.pending_account()):
    name = md_escape(account["display_name"])
    st.warning(f"This Spotify sign-in did not start in this browser (or the browser blocked its sign-in cookie). "
               f"Continue as **{name}** (Spotify account id {md_escape(account['id'])})? If you did not just click "
               f"\"Sign in with Spotify\" yourself, someone may have sent you a link that signs you in to *their* "
               f"account: choose \"Not me\".", icon=":material/warning:")
    yes, no = st.columns(2)
    yes.button(f"Continue as {name}", type="primary", on_click=actions.confirm_sign_in)
    no.button("Not me", on_click=actions.decline_sign_in)
if listener is not None:
    st.success(f"Listening as **{md_escape(listener.label)}**"
               + (f" — {listener.match.sentence}." if listener.match else "."))
    for note in listener.notes:
        st.warning(md_escape(note))
    st.page_link("pages/recommendations.py", label="See your recommendations", icon=":material/recommend:")

tabs = st.tabs((["Your Spotify"] if auth else []) + ["Try the demo", "Upload your data export"])
if auth:
    with tabs[0]:
        if auth.is_signed_in():
            st.button("Reload my Spotify history", on_click=actions.reload_spotify_history)
            st.button("Sign out", on_click=actions.sign_out)
        else:
            st.write("Sign in to use your top tracks, recent plays and saved songs. Nothing is posted to your account "
                     "unless you save a playlist.")
            try:
                link = actions.sign_in_link(auth)
            except SpotifyError as exc:  # a redirect URI Spotify refuses: say so instead of a link
                st.error(md_escape(exc))
            else:
                st.html(link, unsafe_allow_javascript=True)  # the click writes the binding cookie

with tabs[-2]:
    st.info("Demo listeners are synthetic: generated from the catalogue to show how the app works. "
            "They are not real people.")
    demo = resources.demo_choices()
    if demo is not None:
        choices = dict(demo)  # a plain dict, so the callbacks below see no None
        picked = st.selectbox("Demo listener", list(choices), key="demo_pick",
                              format_func=lambda u: f"{u} · {choices[u].label}")
        if picked is not None and (description := choices[picked].description):
            st.caption(md_escape(description))
        # A callback (not `if st.button: ...; st.rerun()`): the click's own run shows the listener.
        # It reads the picker when it runs, so a pick made just before the click counts.
        st.button("Listen as this demo listener", type="primary", disabled=picked is None,
                  on_click=lambda: actions.use_demo_listener(st.session_state["demo_pick"],
                                                             choices[st.session_state["demo_pick"]].name))
    else:
        st.caption("The demo listeners have not been prepared here (`make run` builds them); pick a few songs instead.")
    st.subheader("Or pick a few songs you like")
    picks = session.seed_picks()
    query = st.text_input("Search artists or songs", key="seed_query", placeholder="e.g. beatles yesterday")
    for track_id, label in actions.search_tracks(query) if query.strip() else []:
        st.button(md_escape(label), key=f"add-{track_id}", icon=":material/add:", disabled=track_id in picks,
                  on_click=session.add_seed_pick, args=(track_id,))
    if picks:
        chosen = actions.labels_of(picks)
        kept = st.multiselect("Your picks", picks, default=picks, format_func=lambda t: chosen.get(t, t), key="seed_kept")
        st.checkbox("Also recommend from these artists", value=True, key="seed_with_artists")
        st.button("Use these songs", type="primary", disabled=not kept, on_click=lambda: actions.use_seed_songs(
            list(st.session_state["seed_kept"]), bool(st.session_state["seed_with_artists"])))

with tabs[-1]:
    st.write("Request your data at spotify.com/account/privacy, then upload the zip (or the JSON files in it). "
             "A long streaming history gives much better recommendations.")
    files = st.file_uploader("Spotify data export", type=["zip", "json"], accept_multiple_files=True)
    if files and st.button("Import my history", type="primary"):
        try:
            with st.spinner("Reading your streaming history…"):
                result = read_export(files)
                session.set_listener(listener_from_history(
                    result.history, resources.catalog_index(), kind=KIND_EXPORT, label="Your data export"))
            st.rerun()
        except SpotifyError as exc:
            st.error(f"{md_escape(exc)} Upload the zip Spotify sent you, or its StreamingHistory JSON files.")

with st.expander("Your data and privacy"):
    st.write(
        "Your Spotify sign-in and history stay in this browser session only and are gone when you close the tab. "
        "The app keeps, under a salted hash of your Spotify account id (or a random id for demo sessions): your "
        "likes and dislikes, which songs it recommended, previewed and saved, the songs you left out of your taste, "
        "and the playlists it saved for you. "
        "These help the next model refresh. Nothing else is stored. \"Forget me\" deletes them now; events the "
        "engine already copied are left out of every model trained from the next refresh on."
    )
    if st.button("Forget me", icon=":material/delete:"):
        counts = actions.forget_me()  # None: not deleted, and the page already says so
        if counts is not None:
            st.success(f"Deleted {sum(counts.values())} records: events, likes and saved-playlist records.")
