"""Evaluation: is the model any good, and which parameters are best (pipeline stage).

- ``protocol``      — the evaluation run behind ``python -m engine evaluate``
- ``datasets``      — the datasets it reads, their integer-id splits, the ALS scorer
- ``splits``        — per-listener holdout and time splits on Spark
- ``scoring``       — scoring models on a split in numpy: top-k lists, metrics, AUC
- ``metrics``       — ranking and beyond-accuracy metrics for one list
- ``baselines``     — most-popular, random, EASE, item-kNN behind the ``Scorer`` protocol
- ``scorers``       — trained models as scorers: ALS factors, the served blend, a bundle
- ``tuning``        — ``--grid``: ALS grid, blend weights, EASE λ, KMeans k
- ``reproduction``  — the "Advanced Analytics with Spark" ch. 3 result, reproduced
- ``report``        — the report dataclass, its JSON and markdown, storing it in a bundle
- ``cold_items``    — the cold-item evaluation of the hybrid similar songs (``evaluate-cold``)
- ``continuation``  — playlist continuation as the RecSys Challenge 2018 evaluates it (``evaluate --continuation``)

Imports: :mod:`engine.core`, :mod:`engine.bundle`, :mod:`engine.serving`, :mod:`engine.state`,
:mod:`engine.spark`, :mod:`engine.ingest`, :mod:`engine.training`. Layer rules:
docs/ARCHITECTURE.md.
"""
