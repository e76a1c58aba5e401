"""Your taste: audio profile against the catalogue, cluster mix, top artists and genres, eras."""

import html

import plotly.graph_objects as go
import streamlit as st

from engine.serving.taste import taste_profile
from webapp import actions, resources, widgets

GREEN, GREY = "#1db954", "#9aa5a0"

listener = widgets.require_listener()
bundle = resources.recommender().bundle
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
profile = taste_profile(bundle.items, bundle.audio_features, bundle.kmeans, actions.effective_history(listener),
                        catalogue=resources.catalog_stats())
if profile.n_tracks == 0:
    st.info("None of your tracks are in the catalogue yet, so there is no profile to draw. "
            "Pick a few songs on the Home page.")
    st.stop()
st.caption(f"Based on {profile.n_tracks:,} of your tracks, weighted by how much you play them.")

left, right = st.columns(2)
with left:
    st.subheader("Sound")
    radar = go.Figure()
    features = profile.radar["feature"].tolist()
    for column, name, style in (("catalogue", "Catalogue average", dict(color=GREY, dash="dash")),
                                ("listener", "You", dict(color=GREEN))):
        values = profile.radar[column].tolist()
        radar.add_trace(go.Scatterpolar(r=values + values[:1], theta=features + features[:1], name=name, line=style,
                                        fill="toself" if column == "listener" else None, opacity=0.85))
    radar.update_layout(margin=dict(l=60, r=60, t=30, b=30), legend=dict(orientation="h"))
    st.plotly_chart(radar, key="radar")
with right:
    st.subheader("Cluster mix")
    names = [html.escape(f"{c}: {labels.get(c, '')}") for c in profile.clusters["cluster"]]
    mix = go.Figure([
        go.Bar(x=profile.clusters["listener_share"], y=names, orientation="h", name="You", marker_color=GREEN),
        go.Bar(x=profile.clusters["catalogue_share"], y=names, orientation="h", name="Catalogue", marker_color=GREY),
    ])
    mix.update_layout(barmode="group", xaxis_tickformat=".0%", margin=dict(l=10, r=10, t=30, b=10),
                      legend=dict(orientation="h"), yaxis=dict(autorange="reversed"))
    st.plotly_chart(mix, key="clusters")

left, right = st.columns(2)
for column, table, title in ((left, profile.top_artists, "Top artists"), (right, profile.top_genres, "Top genres")):
    with column:
        st.subheader(title)
        if table.empty:
            st.caption("Nothing to show: the catalogue has no data for this.")
            continue
        bars = go.Figure(go.Bar(x=table["weight"], y=[html.escape(n) for n in table["name"]], orientation="h",
                                marker_color=GREEN))
        bars.update_layout(yaxis=dict(autorange="reversed"), margin=dict(l=10, r=10, t=10, b=10), height=320)
        st.plotly_chart(bars, key=title)

st.subheader("Release eras")
decades = profile.eras["decade"].astype(str) + "s"
eras = go.Figure([go.Bar(x=decades, y=profile.eras["listener_share"], name="You", marker_color=GREEN),
                  go.Bar(x=decades, y=profile.eras["catalogue_share"], name="Catalogue", marker_color=GREY)])
eras.update_layout(barmode="group", yaxis_tickformat=".0%", margin=dict(l=10, r=10, t=10, b=10),
                   legend=dict(orientation="h"))
st.plotly_chart(eras, key="eras")
