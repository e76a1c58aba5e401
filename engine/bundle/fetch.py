"""Serving a downloaded bundle: ``MODEL_BUNDLE_URL`` for hosts that cannot train (Streamlit Cloud).

A hosted app has no Spark and often no training machine of its own. It serves, in order:

1. a bundle published locally (``models/CURRENT``, else the newest older version that verifies);
2. the bundle archive named by ``MODEL_BUNDLE_URL`` — a ``.tar.gz`` written by
   ``python -m engine pack-bundle`` — whose sha256 must equal ``MODEL_BUNDLE_SHA256``;
3. the committed demo bundle ``models/demo``.

The archive is downloaded once into ``models/.download/<sha256>/`` (a cache keyed by its hash,
so a new archive means a new folder and a restart never downloads again), extracted with every
member checked (regular files and folders only, no absolute paths, no ``..``), then loaded
with :func:`engine.bundle.load.load_bundle`, which verifies each file against the manifest. When
anything fails the app serves the demo bundle and ``Bundle.notes`` says why (the Model page
shows it). numpy/pandas and the standard library only: the app imports this, never pyspark.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import secrets
import shutil
import tarfile
import urllib.error
import urllib.request
from dataclasses import replace
from pathlib import Path, PurePosixPath

from engine.bundle.layout import MANIFEST, current_version, list_versions
from engine.bundle.load import Bundle, load_bundle, load_current
from engine.core.config import Settings
from engine.core.errors import BundleError

logger = logging.getLogger(__name__)

#: Folder under ``models/`` for downloaded archives (hidden: never listed as a version).
DOWNLOAD_DIR = ".download"
#: Refuse archives larger than this (a 2.4M-item rank-64 bundle is ~1 GB).
MAX_BYTES = 4 << 30
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class BundleFetchError(BundleError):
    """The bundle at ``MODEL_BUNDLE_URL`` could not be downloaded, verified or unpacked."""


def fetch_bundle(
    url: str,
    *,
    sha256: str,
    cache_dir: Path,
    timeout: float = 60.0,
    max_bytes: int = MAX_BYTES,
) -> Path:
    """Download, verify and unpack the bundle archive at ``url``; return the bundle folder.

    Parameters
    ----------
    url
        ``http(s)://`` address of a ``.tar.gz`` from ``python -m engine pack-bundle``.
    sha256
        Expected hex digest of the archive (``MODEL_BUNDLE_SHA256``); a mismatch is refused.
    cache_dir
        Parent of the per-hash cache folders; an already unpacked archive is reused as is.

    Raises
    ------
    BundleFetchError
        With one line naming the URL, the setting or the archive member at fault.
    """
    expected = sha256.strip().lower()
    if not _SHA256.match(expected):
        raise BundleFetchError(
            f"MODEL_BUNDLE_SHA256={sha256!r} is not a sha256 hex digest (64 hex characters); "
            "`python -m engine pack-bundle` prints the right value"
        )
    if not url.lower().startswith(("https://", "http://")):
        raise BundleFetchError(f"MODEL_BUNDLE_URL={url!r} must be an http(s):// address of a .tar.gz bundle")
    target = Path(cache_dir) / expected
    bundle_dir = target / "bundle"
    if (bundle_dir / MANIFEST).is_file():
        return bundle_dir
    target.mkdir(parents=True, exist_ok=True)
    part = target / f".part-{secrets.token_hex(4)}"
    staging = target / f".unpack-{secrets.token_hex(4)}"
    try:
        got = _download(url, part, timeout=timeout, max_bytes=max_bytes)
        if got != expected:
            raise BundleFetchError(
                f"{url}: the archive's sha256 is {got}, but MODEL_BUNDLE_SHA256 is {expected}; refusing it"
            )
        top = _safe_extract(part, staging, url=url)
        try:
            os.rename(top, bundle_dir)  # atomic: a half-unpacked bundle is never at bundle_dir
        except OSError:
            if not (bundle_dir / MANIFEST).is_file():  # not another process winning the race
                raise BundleFetchError(f"{url}: cannot unpack into {bundle_dir}") from None
    finally:
        part.unlink(missing_ok=True)
        shutil.rmtree(staging, ignore_errors=True)
        if not bundle_dir.exists():
            shutil.rmtree(target, ignore_errors=True)
    return bundle_dir


def serving_bundle(settings: Settings, *, timeout: float = 60.0) -> Bundle:
    """The bundle the app serves: a local published one, else ``MODEL_BUNDLE_URL``, else the demo.

    Downloads only when no version is published locally. A refused download is logged and
    recorded in ``Bundle.notes`` of the demo bundle that is served instead. Raises BundleError
    only when nothing at all loads.
    """
    models_dir, demo = Path(settings.models_dir), Path(settings.demo_bundle_dir)
    url = settings.model_bundle_url.strip()
    if not url or current_version(models_dir) or list_versions(models_dir):
        return load_current(models_dir, fallback_dir=demo)
    try:
        path = fetch_bundle(url, sha256=settings.model_bundle_sha256, cache_dir=models_dir / DOWNLOAD_DIR,
                            timeout=timeout)
        return load_bundle(path)
    except BundleError as exc:
        note = f"MODEL_BUNDLE_URL refused, serving the demo bundle: {exc}"
        logger.warning(note)
    bundle = load_current(models_dir, fallback_dir=demo)
    return replace(bundle, notes=(*bundle.notes, note))


def _download(url: str, dest: Path, *, timeout: float, max_bytes: int) -> str:
    """Stream ``url`` into ``dest`` (at most ``max_bytes``); return the sha256 of the bytes."""
    digest, size = hashlib.sha256(), 0
    request = urllib.request.Request(url, headers={"User-Agent": "music-recommender bundle fetch"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp, open(dest, "wb") as out:
            for block in iter(lambda: resp.read(1 << 20), b""):
                size += len(block)
                if size > max_bytes:
                    raise BundleFetchError(f"{url}: larger than {max_bytes:,} bytes; refusing it")
                digest.update(block)
                out.write(block)
    except urllib.error.HTTPError as exc:
        raise BundleFetchError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise BundleFetchError(f"{url}: download failed ({reason})") from None
    return digest.hexdigest()


def _safe_extract(archive: Path, dest: Path, *, url: str) -> Path:
    """Unpack ``archive`` into ``dest`` after checking every member; return the bundle folder.

    Checked by hand before ``tarfile``'s own ``data`` filter runs as a second line: a bundle is
    regular files only, so links of any kind are refused outright, and the error names the
    member (the filter would accept in-tree symlinks and word its errors for developers).
    """
    try:
        with tarfile.open(archive, mode="r:gz") as tar:
            members = tar.getmembers()
            tops = set()
            for m in members:
                path = PurePosixPath(m.name)
                if path.is_absolute() or ".." in path.parts or m.name.startswith(("/", "\\")) or ":" in m.name:
                    raise BundleFetchError(f"{url}: archive member {m.name!r} points outside the bundle; refusing it")
                if not (m.isfile() or m.isdir()):
                    raise BundleFetchError(f"{url}: archive member {m.name!r} is a link or device; refusing it")
                if path.parts and path.parts[0] != ".":
                    tops.add(path.parts[0])
            if len(tops) != 1:
                raise BundleFetchError(f"{url}: expected one bundle folder in the archive, found {sorted(tops) or 'none'}")
            dest.mkdir(parents=True)
            tar.extractall(dest, members=members, filter="data")
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise BundleFetchError(f"{url}: not a readable .tar.gz bundle ({exc})") from None
    top = dest / tops.pop()
    if not (top / MANIFEST).is_file():
        raise BundleFetchError(f"{url}: the archive has no {top.name}/{MANIFEST}; pack it with `python -m engine pack-bundle`")
    return top
