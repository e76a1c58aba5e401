"""The refresh: retrain on new listening and publish only if not worse (the top pipeline stage).

- ``round``  — one round: lock, catch up on events, gather, hold out new pairs, train, gate, publish, log
- ``gate``   — the quality gate: candidate vs serving model on held-out new listening
- ``loop``   — repeating rounds (``--every``) and parsing the interval
- ``rollback`` — ``models/CURRENT`` back to a kept version (``python -m engine rollback``), logged

Imports: everything below it (:mod:`engine.core`, :mod:`engine.bundle`, :mod:`engine.serving`,
:mod:`engine.state`, :mod:`engine.spark`, :mod:`engine.ingest`, :mod:`engine.training`,
:mod:`engine.evaluation`, :mod:`engine.similarity`, :mod:`engine.streaming`). Layer rules:
docs/ARCHITECTURE.md.
"""
