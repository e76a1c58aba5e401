"""A bundle as one reproducible ``.tar.gz`` plus its sha256 (``python -m engine pack-bundle``).

For hosts that serve a bundle they did not train (Streamlit Community Cloud): upload the
archive anywhere that serves https (a GitHub release asset, object storage), then set
``MODEL_BUNDLE_URL`` to its address and ``MODEL_BUNDLE_SHA256`` to the printed digest; the app
downloads and verifies it (:mod:`engine.bundle.fetch`).

The archive holds one folder named after the version, with exactly the manifest and the files
it lists (verified before packing). It is reproducible: entries sorted, owner, mode and times
fixed, gzip header without a timestamp — the same bundle always packs to the same sha256.
"""

from __future__ import annotations

import gzip
import os
import tarfile
from pathlib import Path

from engine.bundle.layout import MANIFEST
from engine.bundle.load import verify_bundle_dir
from engine.core.files import sha256_file


def pack_bundle(bundle_dir: Path, out_dir: Path) -> tuple[Path, str]:
    """Write ``out_dir/<version>.tar.gz`` and ``<version>.tar.gz.sha256``; return (archive, digest).

    The bundle is verified against its manifest first (BundleError otherwise). The ``.sha256``
    file has the ``sha256sum`` format (``<digest>  <file name>``).
    """
    bundle_dir = Path(bundle_dir)
    manifest = verify_bundle_dir(bundle_dir)
    version = str(manifest.get("version") or bundle_dir.name)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    archive = out_dir / f"{version}.tar.gz"
    tmp = out_dir / f".{archive.name}.part"
    names = sorted({MANIFEST, *manifest.get("files", {})})
    try:
        with open(tmp, "wb") as raw:
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
                with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
                    for name in names:
                        path = bundle_dir / name
                        info = tarfile.TarInfo(f"{version}/{name}")
                        info.size, info.mode, info.mtime = path.stat().st_size, 0o644, 0
                        info.uid = info.gid = 0
                        info.uname = info.gname = ""
                        with open(path, "rb") as fh:
                            tar.addfile(info, fh)
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(tmp, archive)
    finally:
        tmp.unlink(missing_ok=True)
    digest = sha256_file(archive)
    (out_dir / f"{archive.name}.sha256").write_text(f"{digest}  {archive.name}\n", encoding="utf-8")
    return archive, digest
