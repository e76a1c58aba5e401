"""``python -m engine <command>``: the one CLI, dispatching to the stage modules.

Each command lives in its own module, which exposes ``add_arguments(parser)`` and
``main(args, settings) -> int``. Modules are imported only when their command runs, so
``--help`` is fast and a command that needs no Spark never starts a JVM.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from engine.core.config import Settings
from engine.core.errors import EngineError
from engine.core.progress import log_to_stdout

#: command -> (module in engine.commands, one-line help). Order is the order shown in --help.
COMMANDS: dict[str, tuple[str, str]] = {
    "ingest-catalog": ("ingest_catalog", "read tracks/artists CSV(.gz) into canonical parquet"),
    "ingest-interactions": ("ingest_interactions", "read listening data (MPD, playlists CSV, events...) to parquet"),
    "demo": ("demo", "write the synthetic demo listeners, or a synthetic catalogue with --tracks N"),
    "train": ("train", "train ALS + KMeans on Spark and publish a model bundle"),
    "evaluate": ("evaluate", "ALS vs baselines on a held-out split; --grid tunes the parameters"),
    "evaluate-cold": ("evaluate_cold", "cold-item evaluation: ALS vs content vs the hybrid on rarely played items"),
    "prepare": ("prepare", "make the embedded demo data and a model if none is published"),
    "refresh": ("refresh", "retrain on new listening and publish if not worse (--every 6h repeats)"),
    "stream": ("stream", "ingest listening events (events dir or Kafka) into interactions_stream"),
    "replay": ("replay", "send realistic listening events to the events dir or Kafka"),
    "rollback": ("rollback", "serve a kept model version again (default: the previous one); logged"),
    "pack-bundle": ("pack_bundle", "write the current bundle as a .tar.gz + sha256 for MODEL_BUNDLE_URL hosts"),
    "similarity": ("similarity", "similar tracks by MinHash LSH, Word2Vec, TF-IDF; LDA topics -> SQLite + bundle"),
}


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The argparse parser and its sub-parser per registered command (by command name)."""
    parser = argparse.ArgumentParser(prog="python -m engine", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    subs: dict[str, argparse.ArgumentParser] = {}
    for name, (module, help_text) in COMMANDS.items():
        subs[name] = sub.add_parser(name, help=help_text, description=help_text)
        subs[name].set_defaults(_module=f"engine.commands.{module}")
    return parser, subs


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv``, run the command, and turn expected errors into one line + exit code 2."""
    argv = sys.argv[1:] if argv is None else argv
    parser, subs = build_parser()
    # Parse the command name first, then let its module add its own arguments. -h/--help is
    # held back from this first pass, or argparse would print the sub-command's help before
    # the module has added its options.
    first_pass = [a for a in argv if a not in ("-h", "--help")]
    if not first_pass or first_pass[0] not in COMMANDS:
        parser.parse_args(argv)  # prints usage / the error for an unknown command and exits
    known, _ = parser.parse_known_args(first_pass)
    module = importlib.import_module(known._module)
    module.add_arguments(subs[known.command])
    args = parser.parse_args(argv)
    log_to_stdout()  # progress lines (engine.* loggers, INFO and up) as plain stdout lines
    try:
        settings = Settings.from_env()
        return int(module.main(args, settings) or 0)
    except EngineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
