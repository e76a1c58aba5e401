"""Model: which bundle is serving, when and on what it was trained, its metrics, refresh history.

The page is public: everything from the server passes through ``model_info.public_text`` (no
host names, pids or server paths) and everything from the manifest through ``md_escape``.
"""

import pandas as pd
import streamlit as st

from engine.core.config import ROOT
from webapp import model_info, resources, widgets
from webapp.cards import md_escape

widgets.page_setup()
rec = resources.recommender()
bundle, settings = rec.bundle, resources.settings()
manifest = bundle.manifest
dirs = model_info.public_dirs(settings.models_dir, settings.demo_bundle_dir, settings.data_dir, ROOT)
facts = model_info.about_bundle(bundle, demo_dir=settings.demo_bundle_dir)
records = model_info.refresh_records(settings.models_dir)
st.title("The model")
st.write("An implicit-feedback ALS model and a KMeans clustering of audio features, trained with Spark and "
         "served from a versioned bundle. Your history is folded into the model in milliseconds; it is never "
         "trained on it until the next refresh, and only as anonymous events.")
cols = st.columns(3)
cols[0].metric("Tracks", f"{facts.n_tracks:,}")
cols[1].metric("Listeners trained on", f"{facts.n_listeners:,}" if facts.n_listeners is not None else "—")
cols[2].metric("Latent factors", facts.rank)
st.markdown(f"Version **{md_escape(facts.version)}** · trained **{md_escape(facts.trained_at)}**")
if facts.is_demo:
    st.info("This is the built-in demo bundle shipped with the app; `make run` trains and publishes a fresh one.")
for note in bundle.notes:
    st.warning(f"Not serving a bundle: {md_escape(model_info.public_text(note, dirs))}")

label, lists = model_info.served_model(bundle.params)
st.subheader("Which model is served")
st.markdown(f"**{md_escape(label)}**" + "".join(f"\n- {md_escape(line)}" for line in lists))
chosen_text, chosen = model_info.selection_frame(bundle.params)
if chosen is not None:
    st.caption(md_escape(chosen_text))
    st.dataframe(chosen, hide_index=True, column_config={
        c: st.column_config.NumberColumn(c, format="%.3f") for c in chosen.columns if "@" in c
    })

left, middle, right = st.columns(3)
with left:
    st.subheader("Data")
    data = model_info.params_frame(manifest.get("data") or {}).rename(columns={"parameter": "statistic"})
    st.dataframe(data, hide_index=True)
with middle:
    st.subheader("Parameters")
    st.dataframe(model_info.params_frame(bundle.params), hide_index=True)
with right:
    st.subheader("Metrics")
    metrics = model_info.metrics_frame(manifest, records)
    if len(metrics):
        st.dataframe(metrics, hide_index=True, column_config={"value": st.column_config.NumberColumn(format="%.3f")})
    else:
        st.caption("This bundle was published without an evaluation (`python -m engine evaluate --store` adds one).")

evaluation = (manifest.get("metrics") or {}).get("evaluation")
if isinstance(evaluation, dict) and isinstance(evaluation.get("models"), dict) and evaluation["models"]:
    st.subheader("How good is it?")
    st.write(md_escape(
        f"Measured on {evaluation.get('dataset', '?')} ({evaluation.get('split', '?')} split, seed "
        f"{evaluation.get('seed', '?')}, {evaluation.get('n_test_users') or 0:,} test listeners): every model "
        "ranks the same candidates for the same held-out listening.") + " **served** is the model ranking this app serves "
        "(see above); the lists and the dial are built on it.")
    names = {"served": f"served ({label})", "als": "ALS alone"}
    rows = sorted(evaluation["models"].items(), key=lambda kv: (kv[0] != "served", kv[0] != "als"))
    frame = pd.DataFrame(
        [{"model": names.get(name, name), **{k: v for k, v in values.items() if v is not None}}
         for name, values in rows if isinstance(values, dict)]
    )
    st.dataframe(frame, hide_index=True, column_config={
        "auc": st.column_config.NumberColumn("AUC (ties wrong)", format="%.3f"),
        "auc_ties_half": st.column_config.NumberColumn("AUC (ties ½)", format="%.3f"),
        **{c: st.column_config.NumberColumn(c, format="%.3f") for c in frame.columns if "@" in c},
    })
    for note in evaluation.get("notes", []):
        st.caption(md_escape(note))

st.subheader("Refresh history")
refreshes = model_info.refresh_frame(records, dirs=dirs)
if len(refreshes):
    st.dataframe(refreshes, hide_index=True)
else:
    st.caption("No refreshes yet. `python -m engine refresh --every 6h` retrains on new listening and publishes "
               "only models that are not worse than the current one.")
