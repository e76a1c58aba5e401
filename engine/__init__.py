"""The engine: data ingest, training on Spark, evaluation, and the numpy model bundle.

Modules that import pyspark are used by the CLI (``python -m engine``); the app imports only
the numpy-side modules (``bundle``, ``recommender``, ``matching``, ``store``, ``config``).
"""
