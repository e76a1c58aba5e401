"""Serving a bundle in numpy: what the app calls to recommend, explain and find similar songs (app-side).

- ``recommender``    — :class:`~engine.serving.recommender.Recommender`: fold-in, recommend, explain, similar, cold start
- ``options``        — validation of history weights, k and request options
- ``results``        — the frozen dataclasses the recommender returns
- ``scan``           — the one full ``Y @ x`` pass and the served scores (with their moments) it gives
- ``foldin``         — exact implicit-ALS fold-in and per-history-item contributions
- ``rerank``         — candidate selection, filters, novelty/freshness and the per-artist cap
- ``explain``        — scores turned into "because you played …" reasons
- ``blend``          — the served score: ALS + item neighbours + popularity prior
- ``neighbours``     — the item–item neighbour lists as the bundle stores them
- ``content``        — audio, genre and artist signals; cold-start scoring
- ``hybrid``         — similar songs: ALS cosine blended with content by trust in the factors
- ``similar_songs``  — live and stored similar-song lists merged; lookup by artist and title
- ``taste``          — a listener's taste profile, cluster descriptions, the map sample
- ``together``       — Blend: the taste match of two listeners and the list ranked for both
- ``mixes``          — mixes by taste: one mix per audio cluster that holds a real share of the history
- ``continuation``   — a playlist continued: the served ranking re-ranked toward its artists, sound and era

Imports: :mod:`engine.core`, :mod:`engine.bundle`, :mod:`engine.state`; never pyspark,
streamlit or spotipy. Layer rules: docs/ARCHITECTURE.md.
"""
