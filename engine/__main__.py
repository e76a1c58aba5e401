"""``python -m engine <command>``: the one CLI, dispatching to the stage modules.

Each command lives in its own module, which exposes ``add_arguments(parser)`` and
``main(args, settings) -> int``. Modules are imported only when their command runs, so
``--help`` is fast and a command that needs no Spark never starts a JVM.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from engine.config import ConfigError, Settings
from engine.errors import EngineError

#: command -> (module, one-line help). Order is the order shown in --help.
COMMANDS: dict[str, tuple[str, str]] = {
    "ingest-catalog": ("engine.catalog", "read tracks/artists CSV(.gz) into canonical parquet"),
    "train": ("engine.train", "train ALS + KMeans on Spark and publish a model bundle"),
    "prepare": ("engine.prepare", "make the embedded demo data and a model if none is published"),
}


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser with one sub-parser per registered command."""
    parser = argparse.ArgumentParser(prog="python -m engine", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, description=help_text).set_defaults(_module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv``, run the command, and turn expected errors into one line + exit code 2."""
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    # Parse the command name first, then let its module add its own arguments.
    known, _ = parser.parse_known_args(argv)
    module = importlib.import_module(known._module)
    sub_parser = parser._subparsers._group_actions[0].choices[known.command]  # type: ignore[union-attr]
    module.add_arguments(sub_parser)
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
        return int(module.main(args, settings) or 0)
    except (EngineError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
