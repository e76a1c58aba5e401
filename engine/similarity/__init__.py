"""Item-item similarity on Spark: the stored similar-track lists and topics (pipeline stage).

- ``run``             — a similarity run: all methods into the store and a republished bundle
- ``minhash``         — MinHash LSH over each track's listeners (exact Jaccard scores)
- ``content_models``  — TF-IDF, Word2Vec and LDA over the catalogue and listening; LSH cosine neighbours
- ``common``          — shared helpers: column checks, top-N per track, tie-aware LSH recall

Imports: :mod:`engine.core`, :mod:`engine.bundle`, :mod:`engine.state`, :mod:`engine.spark`.
Layer rules: docs/ARCHITECTURE.md.
"""
