"""The engine: data ingest, training on Spark, evaluation, and the numpy model bundle the app serves.

Subpackages, in layer order — app-side packages first, then pipeline stages, then commands;
a package imports only packages listed above it (exactly which: its ``__init__`` docstring and
docs/ARCHITECTURE.md)::

    app-side (numpy/pandas; never pyspark, streamlit or spotipy — the Streamlit app imports these)
      core         settings, errors, schemas, weight transform, name matching, locks, files, progress
      bundle       the model bundle: layout, load, publish, fetch from MODEL_BUNDLE_URL, pack
      state        the SQLite store, listening-event files, the refresh log
      serving      the Recommender: fold-in, blend, re-rank, explain, similar songs, taste
    pipeline stages (Spark; run by the CLI)
      spark        the SparkSession factory and Spark schemas
      ingest       raw catalogue and listening data -> canonical parquet; demo and synthetic data
      training     ALS, item neighbours, KMeans -> a published bundle
      evaluation   splits, metrics, baselines, tuning, reports, the cold-item evaluation
      similarity   MinHash / Word2Vec / TF-IDF neighbours and LDA topics
      streaming    Structured Streaming of listening events, the Kafka bridge, replay
      refresh      retrain on new listening, gate, publish
    commands       one module per ``python -m engine <command>``, imported only by engine/__main__.py
"""
