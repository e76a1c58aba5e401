"""``python -m engine replay``: realistic listening events to the events dir or Kafka, for demos and load tests.

The work is done by :mod:`engine.streaming.replay` (Kafka producer: :mod:`engine.streaming.kafka_bridge`).
"""

from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path

from engine.core.config import Settings
from engine.core.errors import InputError
from engine.streaming.kafka_bridge import DEFAULT_TOPIC, KafkaEventWriter
from engine.streaming.replay import (
    EventGenerator,
    demo_history,
    dir_writer,
    parse_rate,
    playlist_history,
    replay,
)

# -- CLI -------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``python -m engine replay``."""
    parser.add_argument("--to", choices=("dir", "kafka"), default="dir", help="events dir (default) or a Kafka topic")
    parser.add_argument("--dir", type=Path, default=None, help="events directory (default: EVENTS dir under DATA_DIR)")
    parser.add_argument("--bootstrap", default=None, help="Kafka bootstrap servers HOST:PORT (--to kafka)")
    parser.add_argument("--topic", default=None, help="Kafka topic (default listening-events)")
    parser.add_argument("--from", dest="source", default="demo", help="demo (the demo listeners) or a playlist file")
    parser.add_argument("--user", default="replay:playlist", help="listener id for a playlist file")
    parser.add_argument("--rate", default="20/s", help="events per second: N/s, N/m, N/h; 0 = as fast as possible")
    parser.add_argument("--limit", type=int, default=1000, help="number of events (0 = until Ctrl-C)")
    parser.add_argument("--explore", type=float, default=0.3, help="share of discoveries through co-listeners")
    parser.add_argument("--batch", type=int, default=1000, help="most events per file / producer flush")
    parser.add_argument("--seed", type=int, default=42)


def main(args: argparse.Namespace, settings: Settings) -> int:
    """Run ``python -m engine replay``."""
    rate = parse_rate(args.rate)
    history = demo_history(settings) if args.source == "demo" else playlist_history(Path(args.source), user_id=args.user)
    events = iter(EventGenerator(history, seed=args.seed, explore=args.explore))
    if args.to == "kafka":

        if not args.bootstrap:
            raise InputError("--to kafka needs --bootstrap HOST:PORT")
        producer = KafkaEventWriter(bootstrap=args.bootstrap, topic=args.topic or DEFAULT_TOPIC)
        target = f"kafka {args.bootstrap}/{producer.topic}"
        try:
            report = replay(events, lambda b: producer.write(asdict(e) for e in b), target=target,
                            limit=args.limit, rate=rate, batch_size=args.batch)
        finally:
            producer.close()
    else:
        out = args.dir or settings.events_dir
        report = replay(events, dir_writer(out), target=str(out), limit=args.limit, rate=rate, batch_size=args.batch)
    print(report.summary())
    return 0
