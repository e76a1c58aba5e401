"""The Streamlit app's code, used by ``app.py`` (navigation) and the thin pages in ``pages/``.

Modules that may import streamlit:

- :mod:`webapp.resources` — everything shared across sessions: the one home of
  ``st.cache_resource``/``st.cache_data`` (settings, store, recommender, catalogue search index,
  catalogue stats, demo tables, cluster labels, album art).
- :mod:`webapp.session` — the one owner of this app's ``st.session_state`` keys (listener,
  storage key, controls, shown/logged recommendations, playing preview, sign-in error, seed
  picks, the Spotify sign-in of the session), behind small typed accessors.
- :mod:`webapp.actions` — what buttons and pages do: sign in/out, forget me, log events,
  rate/block, recommend, save playlists, catalogue and similar-songs lookups.
- :mod:`webapp.widgets` — drawing helpers every page uses: ``page_setup``,
  ``require_listener``, track cards and their styles.
- :mod:`webapp.extend_view` — the Playlists page's "Extend a playlist" part.

Streamlit-free (unit-tested without a browser; they must never import streamlit):

- :mod:`webapp.listeners` — who is listening (:class:`~webapp.listeners.Listener`,
  :class:`~webapp.listeners.MatchSummary`, ``listener_from_*``), the Recommendations controls
  (:class:`~webapp.listeners.RecControls`) and how they become one recommendation request.
- :mod:`webapp.cards` — the escaped HTML and Markdown text of cards, reasons and the
  sign-in link, and the card CSS.
- :mod:`webapp.catalog` — catalogue lookups over a ``Recommender``'s bundle (labels, search,
  first artists, track and neighbour tables).
- :mod:`webapp.mixes` — the "Mixes by taste" section's request, titles, card rows and
  playlist names (a saved mix is updated only from its own section).
- :mod:`webapp.extend` — "Extend a playlist": pasted lists and CSVs read, matched and worded.

Nothing here imports pyspark: the app runs without Java.
"""
