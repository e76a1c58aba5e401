"""``python -m engine rollback [VERSION]``: serve a kept model version again (default: the previous one).

Refuses (exit 2, one line) an unknown, corrupt or already serving version, and also while a
refresh runs (it holds the refresh lock). ``--list`` shows the kept versions. The work is done
by :mod:`engine.refresh.rollback`.
"""

from __future__ import annotations

import argparse

from engine.bundle.layout import current_version, list_versions
from engine.core.config import Settings
from engine.refresh.rollback import rollback


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``python -m engine rollback``."""
    parser.add_argument("version", nargs="?", default=None,
                        help="a kept version under MODELS_DIR (default: the one published before the serving one)")
    parser.add_argument("--note", default="", help="why, for the refresh log and the Model page")
    parser.add_argument("--list", action="store_true", help="list the kept versions, the serving one marked, and stop")


def main(args: argparse.Namespace, settings: Settings) -> int:
    """Point CURRENT at the version and print what changed."""
    if args.list:
        serving = current_version(settings.models_dir)
        for name in list_versions(settings.models_dir):
            print(("* " if name == serving else "  ") + name)
        return 0
    record = rollback(settings.models_dir, args.version, note=args.note)
    print(f"{record.reason}; the app serves it from its next page load")
    return 0
