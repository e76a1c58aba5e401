"""Training on Spark: from the interactions and the catalogue to a published bundle (pipeline stage).

- ``run``         — a training run: ALS, item neighbours, the artist model, KMeans, the items table, publishing
- ``inputs``      — which interactions datasets are read (track- and artist-level); dropping forgotten listeners
- ``sources``     — which rows are generated listening; no artist factors from a mostly synthetic model
- ``params``      — which parameters a run uses; ``models/best_params.json``
- ``als``         — implicit ALS: parameters, integer ids, the fit, the factors
- ``neighbours``  — top-N item–item cosine neighbours computed on Spark
- ``artists``     — the artist model: ALS over listener × artist, the bundle's artist arrays
- ``artist_similarity`` — similar artists: co-listening, genres and collaborations blended on Spark
- ``kmeans``      — the audio-feature KMeans clusterer and the 2-D PCA map
- ``assemble``    — the bundle's item rows and the popularity prior (numpy/pandas)

Imports: :mod:`engine.core`, :mod:`engine.bundle`, :mod:`engine.serving`, :mod:`engine.state`,
:mod:`engine.spark`. Layer rules: docs/ARCHITECTURE.md.
"""
