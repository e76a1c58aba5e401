"""State the app and the engine share on disk (app-side).

- ``store``        — the SQLite store: events, feedback, playlists, similar tracks, topics, "Forget me" tombstones
- ``events``       — listening events as atomically written JSON-lines files (the app writes, the stream reads)
- ``refresh_log``  — ``models/refresh_log.jsonl``: one record per refresh round (the refresh writes, the app reads)

Imports: only :mod:`engine.core`; never pyspark, streamlit or spotipy. Layer rules:
docs/ARCHITECTURE.md.
"""
