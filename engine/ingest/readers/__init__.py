"""The listening-data readers: each parses one kind of source into canonical interactions.

- ``common``     — shared machinery: reasons, rejects files, read reports, path checks
- ``playlists``  — Million Playlist Dataset JSON and the "Spotify playlists" CSV (matched by name)
- ``events``     — the app's JSON-lines listening events (``source = "app"``) and how kinds map to weights
- ``artists``    — artist-level play counts: Audioscrobbler (aliases applied) and Last.fm HetRec 2011

Part of :mod:`engine.ingest` (re-exported by :mod:`engine.ingest.interactions`), with its
imports: :mod:`engine.core`, :mod:`engine.state`, :mod:`engine.spark`.
"""
