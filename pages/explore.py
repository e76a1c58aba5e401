"""Explore: the 2-D cluster map of the catalogue with your tracks and recommendations on it."""

import html

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.colors import qualitative

from engine.serving.taste import map_sample
from webapp import actions, resources, session, widgets

listener = widgets.require_listener()
bundle = resources.recommender().bundle
labels = resources.cluster_labels()
st.title("Explore the catalogue")
st.write("Each dot is a track, placed by its sound (a 2-D projection of its audio features) and coloured by "
         "its cluster. Your tracks and your recommendations are highlighted.")
n = st.select_slider("Catalogue tracks to draw", [1000, 2000, 5000, 10000, 20000], value=5000, key="map_n")
recommended = session.shown_track_ids() or actions.recommendations(listener)[1]["track_id"].tolist()
yours = list(actions.effective_history(listener))
points = map_sample(bundle.items, n=n, listener=yours, recommended=recommended, seed=0)
points["hover"] = [html.escape(f"{a} – {t}") for a, t in zip(points["artist"], points["name"])]

fig = go.Figure()
catalogue = points[points["role"] == "catalogue"]
palette = qualitative.Dark24
for cluster, group in catalogue.groupby("cluster"):
    fig.add_trace(go.Scattergl(
        x=group["x"], y=group["y"], mode="markers", text=group["hover"], hoverinfo="text",
        marker=dict(size=4, opacity=0.5, color=palette[int(cluster) % len(palette)]),
        name=html.escape(f"{cluster}: {labels.get(cluster, '')}"),
    ))
styles = {
    "yours": ("Your tracks", dict(size=10, color="#111", symbol="circle-open", line=dict(width=2))),
    "recommended": ("Recommended", dict(size=13, color="#e4572e", symbol="star", line=dict(width=1, color="#fff"))),
}
for role, (name, marker) in styles.items():
    group = points[points["role"] == role]
    fig.add_trace(go.Scattergl(x=group["x"], y=group["y"], mode="markers", text=group["hover"], hoverinfo="text",
                               marker=marker, name=name))
fig.update_layout(height=640, margin=dict(l=10, r=10, t=10, b=10), xaxis=dict(visible=False), yaxis=dict(visible=False),
                  legend=dict(itemsizing="constant"))
st.plotly_chart(fig, key="map")
st.caption(f"{len(catalogue):,} catalogue tracks sampled, {int((points['role'] == 'yours').sum())} of yours, "
           f"{int((points['role'] == 'recommended').sum())} recommended.")

st.subheader("What the clusters sound like")
sizes = bundle.kmeans.get("sizes") or []
st.dataframe(pd.DataFrame({
    "cluster": list(labels),
    "sound": list(labels.values()),
    "tracks": [sizes[c] if c < len(sizes) else None for c in labels],
}), hide_index=True)
