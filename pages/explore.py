"""Explore: the 2-D cluster map of the catalogue with your tracks and recommendations on it."""

import pandas as pd
import streamlit as st

from engine.serving.taste import map_sample
from webapp import actions, charts, resources, session, widgets

listener = widgets.require_listener()
bundle = resources.recommender().bundle
labels = resources.cluster_labels()
st.title("Explore the catalogue")
st.write("Each dot is a track, placed by its sound (a 2-D projection of its audio features) and coloured by "
         "its cluster. Your tracks and your recommendations are highlighted.")
n = st.select_slider("Catalogue tracks to draw", [1000, 2000, 5000, 10000, 20000], value=5000, key="map_n")
recommended = session.shown_track_ids() or actions.recommendations(listener)[1]["track_id"].tolist()
yours = list(actions.effective_history(listener))
dots = resources.map_dots(n)  # the catalogue sample: shared by every session
marked = charts.map_rows(map_sample(bundle.items, n=0, listener=yours, recommended=recommended), labels)
st.altair_chart(charts.catalogue_map(dots, marked, labels), key="map")
sampled = int((~dots["track_id"].isin(set(marked["track_id"]))).sum())
st.caption(f"{sampled:,} catalogue tracks sampled, {int((marked['role'] == 'yours').sum())} of yours, "
           f"{int((marked['role'] == 'recommended').sum())} recommended (open circles: yours; stars: recommended).")

st.subheader("What the clusters sound like")
sizes = bundle.kmeans.get("sizes") or []
st.dataframe(pd.DataFrame({
    "cluster": list(labels),
    "sound": list(labels.values()),
    "tracks": [sizes[c] if c < len(sizes) else None for c in labels],
}), hide_index=True)
