"""Playlists: save the current recommendations to Spotify, or download them as CSV; or extend one
of your playlists (webapp.extend_view)."""

import streamlit as st

from spotify.errors import SpotifyError
from spotify.ids import is_open_spotify_url, is_spotify_id
from spotify.playlists import tracks_to_csv
from webapp import actions, extend_view, session, widgets
from webapp.cards import md_escape
from webapp.mixes import not_mixes

listener = widgets.require_listener()
st.title("Playlists")
if extend_view.chosen():  # "Extend a playlist" instead of saving the recommendations
    extend_view.section(listener)
    st.stop()
n_liked = len(actions.feedback().liked_tracks)
include_liked = bool(n_liked) and st.checkbox(f"Start with the {n_liked} songs you liked", value=True, key="pl_liked")
tracks = actions.playlist_tracks(listener, include_liked=include_liked)
if tracks.empty:
    st.warning("There is nothing to save yet: the current filters leave no recommendations. "
               "Widen them on the Recommendations page.")
    st.stop()
st.write(f"**{len(tracks)} songs**, in this order (change them on the Recommendations page):")
table = tracks.assign(artists=[", ".join(a) for a in tracks["artists"]])
st.dataframe(table[["name", "artists", "year"]], hide_index=True, key="pl_table",
             column_config={"name": "Title", "artists": "Artists",
                            "year": st.column_config.NumberColumn("Year", format="%d")})
st.download_button("Download CSV", tracks_to_csv(tracks.to_dict("records")), file_name="recommendations.csv",
                   mime="text/csv", icon=":material/download:")

st.subheader("Save to Spotify")
auth = session.spotify_auth()
if auth is None or not auth.is_signed_in():
    st.info("Sign in with Spotify on the Home page to save this as a playlist in your account. "
            "Anyone can download the CSV above.")
    st.stop()
previous = not_mixes(actions.saved_playlists())  # a saved mix is updated from its own section
with st.form("save_playlist"):
    name = st.text_input("Name", value=previous[0].name if previous else "Recommended for you", max_chars=100)
    description = st.text_input("Description", value="Made by the music recommender", max_chars=300)
    public = st.toggle("Public playlist", value=False)
    new = st.checkbox(f"Save as a new playlist instead of updating “{md_escape(previous[0].name)}”",
                      value=False) if previous else True
    submitted = st.form_submit_button("Save to Spotify", type="primary", icon=":material/library_add:")
if submitted:
    ids = [t for t in tracks["track_id"] if is_spotify_id(t)]
    try:
        saved = actions.save_to_spotify(ids, name=name.strip() or "Recommended for you", description=description,
                                        public=public, new=new)
    except (SpotifyError, ValueError) as exc:  # sentences: a refusal from Spotify, a bad name
        st.error(f"{md_escape(exc)} Nothing was saved.")
        st.stop()
    verb = "Created" if saved.created else "Updated"
    st.success(f"{verb} “{md_escape(saved.name)}” with {saved.n_tracks} songs.")
    st.link_button("Open in Spotify", saved.url, icon=":material/open_in_new:")
    if len(ids) < len(tracks):
        st.caption(f"{len(tracks) - len(ids)} songs have no Spotify id and were left out.")
for playlist in actions.saved_playlists():
    name = md_escape(playlist.name)
    link = f"[{name}]({playlist.url})" if is_open_spotify_url(playlist.url) else name
    st.caption(f"Saved with this app: {link} — {playlist.n_tracks} songs")
