"""Your taste: audio profile against the catalogue, cluster mix, top artists and genres, eras."""

import streamlit as st

from webapp import actions, charts, resources, widgets

listener = widgets.require_listener()
labels = resources.cluster_labels()
st.title("Your taste")
if listener.match:
    st.metric("Tracks found in the catalogue", f"{listener.match.matched:,} of {listener.match.total:,}")
    st.caption(f"{listener.match.sentence}: {listener.match.by_path.get('track_id', 0)} by Spotify id, "
               f"{listener.match.by_path.get('name', 0)} by artist and title, "
               f"{listener.match.by_path.get('artist', 0)} by artist only.")
    if listener.match.unmatched:
        with st.expander("Some tracks we could not find"):
            st.text("\n".join(listener.match.unmatched))
profile = actions.profile(listener)
if profile.n_tracks == 0:
    st.info("None of your tracks are in the catalogue yet, so there is no profile to draw. "
            "Pick a few songs on the Home page.")
    st.stop()
st.caption(f"Based on {profile.n_tracks:,} of your tracks, weighted by how much you play them.")

left, right = st.columns(2)
with left:
    st.subheader("Sound")
    st.altair_chart(charts.sound_profile(profile.radar), key="radar")
with right:
    st.subheader("Cluster mix")
    st.altair_chart(charts.cluster_mix(profile.clusters, labels), key="clusters")

left, right = st.columns(2)
for column, table, title in ((left, profile.top_artists, "Top artists"), (right, profile.top_genres, "Top genres")):
    with column:
        st.subheader(title)
        if table.empty:
            st.caption("Nothing to show: the catalogue has no data for this.")
            continue
        st.altair_chart(charts.top_bars(table), key=title)

st.subheader("Release eras")
st.altair_chart(charts.eras(profile.eras), key="eras")
