"""The CLI commands of ``python -m engine <command>``: one module per command.

Each module holds ``add_arguments(parser)`` and ``main(args, settings) -> int``; the work is
done by the stage packages (``prepare`` also keeps its short orchestration of them here,
:func:`engine.commands.prepare.prepare`). ``engine/__main__.py`` imports a module only when its
command runs.

- ``ingest_catalog``       — ``ingest-catalog``: catalogue CSV -> canonical parquet
- ``ingest_interactions``  — ``ingest-interactions``: one listening-data reader -> parquet
- ``demo``                 — ``demo``: synthetic demo listeners, or a synthetic catalogue
- ``train``                — ``train``: ALS + neighbours + KMeans -> a published bundle
- ``evaluate``             — ``evaluate``: the served model vs baselines; ``--grid`` tuning
- ``evaluate_cold``        — ``evaluate-cold``: the hybrid on cold items
- ``prepare``              — ``prepare``: sample catalogue, demo listeners and a first model for ``make run``
- ``refresh``              — ``refresh``: retrain and publish if not worse, once or ``--every``
- ``stream``               — ``stream``: listening events into ``interactions_stream``
- ``replay``               — ``replay``: realistic events to the events dir or Kafka
- ``pack_bundle``          — ``pack-bundle``: the serving bundle as a ``.tar.gz`` for hosted apps
- ``similarity``           — ``similarity``: MinHash / Word2Vec / TF-IDF neighbours and LDA topics

Imports: anything in the engine; within the engine, imported only by ``engine/__main__.py``
(tests call the commands directly). Layer rules: docs/ARCHITECTURE.md.
"""
