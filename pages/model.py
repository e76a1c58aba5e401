"""Model: which bundle is serving, when and on what it was trained, its metrics, refresh history."""

import json

import pandas as pd
import streamlit as st

from webapp import model_info, resources, widgets
from webapp.cards import md_escape

widgets.page_setup()
rec = resources.recommender()
bundle, settings = rec.bundle, resources.settings()
manifest = bundle.manifest
st.title("The model")
st.write("An implicit-feedback ALS model and a KMeans clustering of audio features, trained with Spark and "
         "served from a versioned bundle. Your history is folded into the model in milliseconds; it is never "
         "trained on it until the next refresh, and only as anonymous events.")
cols = st.columns(4)
cols[0].metric("Version", bundle.version)
cols[1].metric("Trained", str(manifest.get("created_at", "?"))[:16].replace("T", " ") + " UTC")
cols[2].metric("Tracks", f"{bundle.n_items:,}")
cols[3].metric("Latent factors", bundle.rank)
if bundle.path.resolve() == settings.demo_bundle_dir.resolve():
    st.info("This is the built-in demo bundle shipped with the app; `make run` trains and publishes a fresh one.")
for note in bundle.notes:
    st.warning(f"A newer bundle was skipped: {note}")


def table(values: dict, name: str) -> pd.DataFrame:
    return pd.DataFrame({name: list(values), "value": [json.dumps(v) if isinstance(v, (dict, list)) else str(v)
                                                       for v in values.values()]})


label, lists = model_info.served_model(manifest.get("params", {}))
st.subheader("Which model is served")
st.markdown(f"**{label}**" + "".join(f"\n- {md_escape(line)}" for line in lists))
chosen_text, chosen = model_info.selection_frame(manifest.get("params", {}))
if chosen is not None:
    st.caption(chosen_text)
    st.dataframe(chosen, hide_index=True, column_config={
        c: st.column_config.NumberColumn(c, format="%.3f") for c in chosen.columns if "@" in c
    })

left, middle, right = st.columns(3)
with left:
    st.subheader("Data")
    st.dataframe(table(manifest.get("data", {}), "statistic"), hide_index=True)
with middle:
    st.subheader("Parameters")
    st.dataframe(table(manifest.get("params", {}), "parameter"), hide_index=True)
with right:
    st.subheader("Metrics")
    metrics = {k: v for k, v in manifest.get("metrics", {}).items() if k != "evaluation"}
    if metrics:
        st.dataframe(table(metrics, "metric"), hide_index=True)
    elif "evaluation" not in manifest.get("metrics", {}):
        st.caption("This bundle was published without an evaluation (`python -m engine evaluate --store` adds one).")

evaluation = manifest.get("metrics", {}).get("evaluation")
if isinstance(evaluation, dict) and evaluation.get("models"):
    st.subheader("How good is it?")
    st.write(
        f"Measured on {evaluation.get('dataset', '?')} ({evaluation.get('split', '?')} split, seed "
        f"{evaluation.get('seed', '?')}, {evaluation.get('n_test_users') or 0:,} test listeners): every model "
        "ranks the same candidates for the same held-out listening. **served** is what this app serves "
        "(see above)."
    )
    names = {"served": f"served ({label})", "als": "ALS alone"}
    rows = sorted(evaluation["models"].items(), key=lambda kv: (kv[0] != "served", kv[0] != "als"))
    frame = pd.DataFrame(
        [{"model": names.get(name, name), **{k: v for k, v in values.items() if v is not None}} for name, values in rows]
    )
    st.dataframe(frame, hide_index=True, column_config={
        "auc": st.column_config.NumberColumn("AUC (ties wrong)", format="%.3f"),
        "auc_ties_half": st.column_config.NumberColumn("AUC (ties ½)", format="%.3f"),
        **{c: st.column_config.NumberColumn(c, format="%.3f") for c in frame.columns if "@" in c},
    })
    for note in evaluation.get("notes", []):
        st.caption(note)

st.subheader("Refresh history")
refreshes = model_info.refresh_frame(settings.models_dir)
if len(refreshes):
    st.dataframe(refreshes, hide_index=True)
else:
    st.caption("No refreshes yet. `python -m engine refresh --every 6h` retrains on new listening and publishes "
               "only models that are not worse than the current one.")
