"""Streaming: listening events in as they happen, and replayed for demos (pipeline stage).

- ``stream``        — Structured Streaming from the events dir or Kafka into ``interactions_stream``, exactly once
- ``kafka_bridge``  — Kafka <-> the events dir with confluent-kafka (no Spark); the replay's producer
- ``replay``        — realistic synthetic listening events at a given rate

Imports: :mod:`engine.core`, :mod:`engine.bundle`, :mod:`engine.state`, :mod:`engine.spark`,
:mod:`engine.ingest`. Layer rules: docs/ARCHITECTURE.md.
"""
