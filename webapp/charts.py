"""The Taste and Explore charts as Vega-Lite specs (Altair), without Streamlit.

Why Vega-Lite and not Plotly: the browser loads a chart library the first time a page draws
one, and Streamlit's Plotly chunk is 4.7 MB of JavaScript against about 1.6 MB for Vega-Lite
with the Arrow reader it shares with tables. On two busy cores that was ~3 s of the first
"Your taste" visit (``bench/app_latency.py``). Vega renders labels and tooltips as text, so
catalogue names need no HTML escaping here (Plotly's labels were HTML).

Grouped bars compare the listener with the catalogue: ``You`` in the app's green, the
catalogue in grey, always in that order.
"""

from __future__ import annotations

from collections.abc import Mapping

import altair as alt
import pandas as pd

GREEN, GREY, STAR = "#1db954", "#9aa5a0", "#e4572e"
#: A five-pointed star as a Vega symbol path (unit size; Vega has no built-in star).
STAR_SHAPE = ("M0,-1L0.2245,-0.309L0.9511,-0.309L0.3633,0.118L0.5878,0.809L0,0.382L-0.5878,0.809"
              "L-0.3633,0.118L-0.9511,-0.309L-0.2245,-0.309Z")
YOU, CATALOGUE = "You", "Catalogue"
#: Whose share each grouped bar shows, in drawing order.
_SIDES = alt.Scale(domain=[YOU, CATALOGUE], range=[GREEN, GREY])
_LEGEND = alt.Legend(orient="bottom", title=None)
CANVAS = {"embedOptions": {"renderer": "canvas"}}


def _long(frame: pd.DataFrame, key: str, you: str, catalogue: str) -> pd.DataFrame:
    """``key, who, value`` rows: the listener's and the catalogue's column side by side."""
    out = frame[[key, you, catalogue]].rename(columns={you: YOU, catalogue: CATALOGUE})
    return out.melt(id_vars=[key], var_name="who", value_name="value")


def _grouped(data: pd.DataFrame, *, category: str, horizontal: bool, percent: bool, order: list[str]) -> alt.Chart:
    """Pairs of bars (You, Catalogue) per ``category`` value, in ``order``."""
    fmt = ".0%" if percent else ".2f"
    value = alt.X("value:Q", title=None, axis=alt.Axis(format=fmt)) if horizontal else \
        alt.Y("value:Q", title=None, axis=alt.Axis(format=fmt))
    cat = alt.Y(f"{category}:N", title=None, sort=order, axis=alt.Axis(labelLimit=260)) if horizontal else \
        alt.X(f"{category}:N", title=None, sort=order, axis=alt.Axis(labelAngle=0))
    offset = alt.YOffset("who:N", sort=[YOU, CATALOGUE]) if horizontal else \
        alt.XOffset("who:N", sort=[YOU, CATALOGUE])
    return alt.Chart(data).mark_bar().encode(
        value, cat, offset,
        color=alt.Color("who:N", scale=_SIDES, legend=_LEGEND),
        tooltip=[alt.Tooltip(f"{category}:N", title=category), alt.Tooltip("who:N", title="whose"),
                 alt.Tooltip("value:Q", title="share" if percent else "mean", format=fmt)],
    )


def sound_profile(radar: pd.DataFrame) -> alt.Chart:
    """Mean audio descriptors (0..1) of the listener against the catalogue, one pair of bars
    per feature (``TasteProfile.radar``: ``feature, listener, catalogue``)."""
    data = _long(radar, "feature", "listener", "catalogue")
    return _grouped(data, category="feature", horizontal=True, percent=False,
                    order=list(radar["feature"]))


def cluster_mix(clusters: pd.DataFrame, labels: Mapping[int, str]) -> alt.Chart:
    """Share of the listener's and of the catalogue's tracks per sound cluster
    (``TasteProfile.clusters``), clusters named ``"3: high energy, loud"``."""
    named = clusters.assign(cluster=[f"{c}: {labels.get(int(c), '')}" for c in clusters["cluster"]])
    data = _long(named, "cluster", "listener_share", "catalogue_share")
    return _grouped(data, category="cluster", horizontal=True, percent=True,
                    order=list(named["cluster"]))


def top_bars(table: pd.DataFrame) -> alt.Chart:
    """The heaviest names (``name, weight``: top artists or genres), heaviest on top."""
    return alt.Chart(table).mark_bar(color=GREEN).encode(
        x=alt.X("weight:Q", title="weight"),
        y=alt.Y("name:N", title=None, sort=list(table["name"])),
        tooltip=[alt.Tooltip("name:N", title="name"), alt.Tooltip("weight:Q", title="weight", format=".1f")],
    ).properties(height=320)


def eras(table: pd.DataFrame) -> alt.Chart:
    """Share of listening and of the catalogue per release decade (``TasteProfile.eras``)."""
    named = table.assign(decade=[f"{int(d)}s" for d in table["decade"]])
    data = _long(named, "decade", "listener_share", "catalogue_share")
    return _grouped(data, category="decade", horizontal=False, percent=True, order=list(named["decade"]))


def map_rows(points: pd.DataFrame, labels: Mapping[int, str]) -> pd.DataFrame:
    """``engine.serving.taste.map_sample`` rows as the map draws them: ``track_id, x, y, label,
    sound, role``, compact for the browser (float32 coordinates; the cluster names and roles,
    a few distinct values, as categoricals, which reach the browser as Arrow dictionaries)."""
    return pd.DataFrame({
        "track_id": points["track_id"].to_numpy(dtype=object),
        "x": points["x"].to_numpy(dtype="float32"),
        "y": points["y"].to_numpy(dtype="float32"),
        "label": [f"{a} – {t}" for a, t in zip(points["artist"], points["name"])],
        "sound": pd.Categorical([f"{int(c)}: {labels.get(int(c), '')}" for c in points["cluster"]]),
        "role": pd.Categorical(points["role"].to_numpy(dtype=object)),
        "cluster": points["cluster"].to_numpy(dtype="int64"),
    })


def catalogue_map(dots: pd.DataFrame, marked: pd.DataFrame, labels: Mapping[int, str]) -> alt.LayerChart | alt.FacetChart:
    """The 2-D sound map: catalogue ``dots`` coloured by cluster, and the ``marked`` tracks (the
    listener's as open circles, recommendations as stars on top); both are :func:`map_rows`.

    A dot that is also marked is drawn as marked only. Each layer gets only its own rows, so
    the browser receives every point once and filters nothing.
    """
    marked_ids = set(marked["track_id"])
    dots = dots[~dots["track_id"].isin(marked_ids)] if marked_ids else dots
    clusters = sorted({int(c) for c in dots["cluster"]} | {int(c) for c in marked["cluster"]})
    sounds = [f"{c}: {labels.get(c, '')}" for c in clusters]
    tooltip = [alt.Tooltip("label:N", title="track"), alt.Tooltip("sound:N", title="cluster")]
    x = alt.X("x:Q", scale=alt.Scale(zero=False), axis=None)
    y = alt.Y("y:Q", scale=alt.Scale(zero=False), axis=None)
    columns = ["x", "y", "label", "sound"]

    def layer(frame: pd.DataFrame) -> alt.Chart:
        return alt.Chart(frame[columns].reset_index(drop=True)).encode(x=x, y=y, tooltip=tooltip)

    points = layer(dots).mark_circle(size=14, opacity=0.5).encode(
        color=alt.Color("sound:N", title="cluster", scale=alt.Scale(domain=sounds, scheme="category20"),
                        legend=alt.Legend(orient="right", symbolOpacity=1)))
    yours = layer(marked[marked["role"] == "yours"]).mark_point(
        shape="circle", size=90, color="#111", strokeWidth=2, filled=False)
    stars = layer(marked[marked["role"] == "recommended"]).mark_point(
        shape=STAR_SHAPE, size=420, color=STAR, filled=True, stroke="#fff", strokeWidth=1)
    # Thousands of dots: canvas, not one SVG node per dot (vega-embed reads usermeta.embedOptions).
    return alt.layer(points, yours, stars).properties(height=640, usermeta=CANVAS).interactive()
