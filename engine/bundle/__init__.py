"""The model bundle: the numpy artefact training publishes and the app serves (app-side).

- ``layout``   — file names, the schema version, ``models/CURRENT`` and the published versions
- ``load``     — verify against the manifest, memory-map, choose the bundle to serve
- ``publish``  — write, verify and publish atomically; prune old versions
- ``fetch``    — download a packed bundle from ``MODEL_BUNDLE_URL`` for hosts that cannot train
- ``pack``     — a bundle as one reproducible ``.tar.gz`` plus its sha256

Imports: only :mod:`engine.core`; never pyspark, streamlit or spotipy. Layer rules:
docs/ARCHITECTURE.md.
"""
