"""Streamlit entry point: page configuration and navigation only (pages live in ``pages/``).

Run with ``make run`` or ``streamlit run app.py``. Shared caches, session state and actions: the ``webapp`` package.
"""

from engine.core.blas import quiet_blas_helpers

quiet_blas_helpers()  # first, before anything loads numpy: OpenBLAS reads its settings once

import streamlit as st  # noqa: E402 - after the OpenBLAS setting above

st.set_page_config(page_title="Music recommender", page_icon=":material/graphic_eq:", layout="wide")

pages = {
    "Start": [
        st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    ],
    "Listen": [
        st.Page("pages/recommendations.py", title="Recommendations", icon=":material/recommend:"),
        st.Page("pages/taste.py", title="Your taste", icon=":material/insights:"),
        st.Page("pages/explore.py", title="Explore", icon=":material/scatter_plot:"),
        st.Page("pages/similar.py", title="Similar songs", icon=":material/join_inner:"),
        st.Page("pages/playlists.py", title="Playlists", icon=":material/queue_music:"),
    ],
    "About": [
        st.Page("pages/model.py", title="Model", icon=":material/model_training:"),
    ],
}
st.navigation(pages).run()
