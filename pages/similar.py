"""Similar songs: search a track by artist and title, see its neighbours and why."""

import streamlit as st

from webapp import actions, widgets
from webapp.cards import md_escape

listener = widgets.page_setup()
st.title("Similar songs")
st.write("Type an artist and a title (typos are fine), pick the song, and get tracks that are listened to "
         "together with it or sound like it.")
query = st.text_input("Artist and title", key="similar_query", placeholder="e.g. nina simone feeling good")
hits = actions.search_tracks(query) if query.strip() else []
if query.strip() and not hits:
    st.warning("No song in the catalogue matches that. Check the spelling or try just the artist.")
    st.stop()
if not hits:
    st.stop()
labels = dict(hits)
track_id = st.selectbox("Song", list(labels), format_func=lambda t: labels[t], key="similar_pick")
if track_id is None:  # only with no options, which the stops above rule out
    st.stop()
k = st.slider("How many", 5, 30, 10, key="similar_k")
result = actions.similar(track_id, k)
topic = actions.topic_labels([track_id]).get(track_id)
methods = sorted({m for found in result["methods"] for m in found})
st.caption(f"Found by: {md_escape(', '.join(methods))}" + (f" · genre topic: {md_escape(topic)}" if topic else ""))
widgets.card_styles()
for position, row in enumerate(result.to_dict("records")):
    widgets.track_card(row, verb="played", image=None, position=position, feedback_buttons=listener is not None)
