"""Ingest: raw catalogue and listening data into the canonical parquet tables (pipeline stage, Spark).

- ``catalog``         — Kaggle tracks/artists/genres CSV -> canonical ``tracks`` and ``artists`` parquet
- ``catalog_io``      — reading the raw CSVs as strings; writing parquet and rejects files
- ``catalog_parse``   — column parsers and checks: list literals, release dates, numbers, ids
- ``catalog_checks``  — per-input row checks giving each rejected row one reason; duplicates
- ``interactions``    — the listening-data readers in one place, their formats, the parquet writer
- ``readers``         — one module per family of listening sources (see :mod:`engine.ingest.readers`)
- ``demo_listeners``  — the deterministic synthetic demo listeners (pandas/numpy)
- ``synthetic``       — full-size synthetic catalogues and interactions for performance work
- ``playlists_synthetic`` — synthetic playlist-shaped interactions: the ``evaluate --data playlists`` benchmark
- ``sample``          — building the shipped ``data/sample/`` slice (``scripts/build_sample.py``)

Imports: :mod:`engine.core`, :mod:`engine.state`, :mod:`engine.spark`. Layer rules:
docs/ARCHITECTURE.md.
"""
