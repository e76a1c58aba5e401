"""``python -m engine pack-bundle``: the serving bundle as a ``.tar.gz`` for hosts that cannot train.

Prints the ``MODEL_BUNDLE_URL`` / ``MODEL_BUNDLE_SHA256`` settings; the work is done by :mod:`engine.bundle.pack`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from engine.bundle.layout import current_version
from engine.bundle.pack import pack_bundle
from engine.core.config import Settings
from engine.core.errors import BundleError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``python -m engine pack-bundle``."""
    parser.add_argument("--bundle", type=Path, help="bundle folder to pack (default: the one models/CURRENT names)")
    parser.add_argument("--out", type=Path, help="where to write the archive (default: MODELS_DIR)")


def main(args: argparse.Namespace, settings: Settings) -> int:
    """Pack a bundle and print the two settings a hosted app needs."""
    bundle = args.bundle
    if bundle is None:
        version = current_version(settings.models_dir)
        if not version:
            raise BundleError(
                f"{settings.models_dir / 'CURRENT'}: no published bundle to pack "
                "(train one, or name a folder with --bundle, e.g. --bundle models/demo)"
            )
        bundle = settings.models_dir / version
    archive, digest = pack_bundle(bundle, args.out or settings.models_dir)
    size = archive.stat().st_size
    print(f"packed {bundle} into {archive} ({size / 2**20:,.1f} MiB)\n"
          f"upload it, then set in the app's secrets (or .env):\n"
          f'  MODEL_BUNDLE_URL = "https://<where you uploaded it>/{archive.name}"\n'
          f'  MODEL_BUNDLE_SHA256 = "{digest}"')
    return 0
