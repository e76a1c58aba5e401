"""Foundations every other package builds on (app-side: the Streamlit app imports it).

- ``config``    — the one typed :class:`~engine.core.config.Settings` (environment, ``.env``, app overrides)
- ``errors``    — exceptions whose one-line message is meant for a person
- ``schemas``   — column names of the canonical tables and of the bundle's items table
- ``weights``   — the confidence transform of raw play counts (numpy, and a Spark column)
- ``matching``  — name normalization and matching of history to catalogue tracks; catalogue search
- ``locking``   — a crash-surviving exclusive lock file (one refresher, one stream writer)
- ``files``     — sha256 of a file, directory fsync, atomic text writes
- ``progress``  — ``[stage] detail (elapsed)`` progress lines with timings
- ``blas``      — OpenBLAS's idle helper threads sleep at once (set before numpy loads; no numpy)

Imports: nothing else of the engine, and never pyspark, streamlit or spotipy at import time
(``weights`` builds its Spark column expression with a function-local import, run only by the
pipeline). Layer rules: docs/ARCHITECTURE.md.
"""
