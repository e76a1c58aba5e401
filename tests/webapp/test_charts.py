"""webapp.charts: the Vega-Lite specs of the Taste and Explore pages (no Streamlit, no browser)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from webapp import charts


def _spec(chart: Any) -> dict[str, Any]:
    return chart.to_dict()


def _rows(spec: dict[str, Any]) -> list[dict[str, Any]]:
    (values,) = spec["datasets"].values()
    return values


def test_grouped_bars_put_you_before_the_catalogue_in_the_apps_colours() -> None:
    radar = pd.DataFrame({"feature": ["energy", "valence"], "listener": [0.8, 0.2], "catalogue": [0.5, 0.5]})
    spec = _spec(charts.sound_profile(radar))
    color = spec["encoding"]["color"]["scale"]
    assert color == {"domain": [charts.YOU, charts.CATALOGUE], "range": [charts.GREEN, charts.GREY]}
    assert spec["encoding"]["y"]["sort"] == ["energy", "valence"]  # the profile's order, not alphabetical
    rows = {(r["feature"], r["who"]): r["value"] for r in _rows(spec)}
    assert rows == {("energy", "You"): 0.8, ("valence", "You"): 0.2,
                    ("energy", "Catalogue"): 0.5, ("valence", "Catalogue"): 0.5}


def test_clusters_and_eras_are_named_and_kept_in_numeric_order() -> None:
    clusters = pd.DataFrame({"cluster": [0, 1, 10], "listener_share": [0.5, 0.5, 0.0],
                             "catalogue_share": [0.2, 0.3, 0.5]})
    spec = _spec(charts.cluster_mix(clusters, {0: "loud", 1: "quiet", 10: "old"}))
    assert spec["encoding"]["y"]["sort"] == ["0: loud", "1: quiet", "10: old"]
    assert spec["encoding"]["x"]["axis"]["format"] == ".0%"
    eras = pd.DataFrame({"decade": [1960, 2000], "listener_share": [0.1, 0.9], "catalogue_share": [0.5, 0.5]})
    assert _spec(charts.eras(eras))["encoding"]["x"]["sort"] == ["1960s", "2000s"]


def test_names_reach_the_chart_as_text_not_html() -> None:
    # Vega draws text (and vega-tooltip escapes tooltips), so an "&" must not become "&amp;".
    table = pd.DataFrame({"name": ["Simon & Garfunkel", "<b>x</b>"], "weight": [3.0, 1.0]})
    spec = _spec(charts.top_bars(table))
    assert [r["name"] for r in _rows(spec)] == ["Simon & Garfunkel", "<b>x</b>"]
    assert spec["encoding"]["y"]["sort"] == ["Simon & Garfunkel", "<b>x</b>"]  # heaviest first, as given


def test_the_map_draws_every_point_once_on_a_canvas() -> None:
    points = pd.DataFrame({
        "track_id": ["a", "b", "c", "d"], "name": ["A", "B", "C", "D"], "artist": ["X", "Y", "Z", "W"],
        "cluster": [2, 10, 1, 2], "x": [0.0, 1.0, 2.0, 3.0], "y": [0.0, 1.0, 0.5, 0.2],
        "role": ["catalogue", "catalogue", "yours", "recommended"],
    })
    labels = {1: "quiet", 2: "loud", 10: "old"}
    dots = charts.map_rows(points.assign(role="catalogue"), labels)  # the shared sample holds c and d too
    marked = charts.map_rows(points[points["role"] != "catalogue"], labels)
    spec = _spec(charts.catalogue_map(dots, marked, labels))
    assert spec["usermeta"] == {"embedOptions": {"renderer": "canvas"}}  # thousands of dots: no SVG node each
    layers = spec["layer"]
    assert not any("transform" in layer for layer in layers)  # each layer has its own rows: nothing to filter
    assert layers[0]["encoding"]["color"]["scale"]["domain"] == ["1: quiet", "2: loud", "10: old"]
    rows = [spec["datasets"][layer["data"]["name"]] for layer in layers]
    # c and d are drawn once, as marked: the catalogue layer leaves them out.
    assert [[r["label"] for r in layer] for layer in rows] == [["X – A", "Y – B"], ["Z – C"], ["W – D"]]
    assert rows[0][1]["sound"] == "10: old" and set(rows[0][0]) == {"x", "y", "label", "sound"}


def test_map_rows_are_compact() -> None:
    points = pd.DataFrame({"track_id": ["a", "b"], "name": ["A", "B"], "artist": ["X", "Y"], "cluster": [1, 1],
                           "x": [0.5, 1.5], "y": [0.25, 2.0], "role": ["catalogue", "yours"]})
    rows = charts.map_rows(points, {1: "quiet"})
    assert str(rows["x"].dtype) == "float32" and str(rows["sound"].dtype) == "category"
    assert rows["label"].tolist() == ["X – A", "Y – B"] and rows["sound"].tolist() == ["1: quiet"] * 2
