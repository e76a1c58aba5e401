"""The Spark side's foundations: the session factory and the Spark schemas (pipeline only).

- ``session``  — the one SparkSession factory (``local[*]`` or a cluster via ``SPARK_MASTER``)
- ``schemas``  — Spark schemas (``StructType``) of the canonical tracks, artists and interactions parquet

Imports: only :mod:`engine.core` (and pyspark). The app never imports this package. Layer
rules: docs/ARCHITECTURE.md.
"""
