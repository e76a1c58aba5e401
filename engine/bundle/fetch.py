"""Serving a downloaded bundle: ``MODEL_BUNDLE_URL`` for hosts that cannot train (Streamlit Cloud).

A hosted app has no Spark and often no training machine of its own. It serves, in order:

1. a bundle published locally (``models/CURRENT``, else the newest older version that verifies);
2. the bundle archive named by ``MODEL_BUNDLE_URL`` — a ``.tar.gz`` written by
   ``python -m engine pack-bundle`` — whose sha256 must equal ``MODEL_BUNDLE_SHA256``;
3. the committed demo bundle ``models/demo``.

The archive is downloaded once into ``models/.download/<sha256>/`` (a cache keyed by its hash,
so a new archive means a new folder and a restart never downloads again), extracted with every
member checked (regular files and folders only, no absolute paths, no ``..``, at most
:data:`MAX_UNPACKED_BYTES` in all), then loaded with :func:`engine.bundle.load.load_bundle`,
which verifies each file against the manifest. The download has an overall deadline
(:data:`DEADLINE_S`), not only a socket timeout, so a server that drips bytes cannot hold the
app's first page. When anything fails — a malformed URL included — the app serves the demo
bundle and ``Bundle.notes`` says why (the Model page shows it).

The URL may carry a secret (``https://user:token@host/…``, a presigned ``?sig=…``): every
message and log line shows it through :func:`redact_url`, and userinfo is sent as a Basic
``Authorization`` header that is not forwarded on a redirect. numpy/pandas and the standard
library only: the app imports this, never pyspark.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import logging
import os
import re
import secrets
import shutil
import tarfile
import time
import urllib.error
import urllib.request
from dataclasses import replace
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit, urlunsplit

from engine.bundle.layout import MANIFEST, current_version, list_versions
from engine.bundle.load import Bundle, load_bundle, load_current
from engine.core.config import Settings
from engine.core.errors import BundleError

logger = logging.getLogger(__name__)

#: Folder under ``models/`` for downloaded archives (hidden: never listed as a version).
DOWNLOAD_DIR = ".download"
#: Refuse archives larger than this (a 2.4M-item rank-64 bundle is ~1 GB).
MAX_BYTES = 4 << 30
#: Refuse archives that unpack to more than this in all (numpy arrays barely compress, so a
#: real bundle unpacks to about its archive's size; a gzip bomb to a thousand times it).
MAX_UNPACKED_BYTES = 8 << 30
#: Refuse archives with more members than this (a bundle has a dozen files or so).
MAX_MEMBERS = 10_000
#: Seconds the whole download may take, however steadily the server trickles bytes.
DEADLINE_S = 600.0
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_CONTROL = re.compile(r"[\x00-\x20\x7f]")


class BundleFetchError(BundleError):
    """The bundle at ``MODEL_BUNDLE_URL`` could not be downloaded, verified or unpacked."""


def fetch_bundle(
    url: str,
    *,
    sha256: str,
    cache_dir: Path,
    timeout: float = 60.0,
    deadline: float = DEADLINE_S,
    max_bytes: int = MAX_BYTES,
    max_unpacked: int = MAX_UNPACKED_BYTES,
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
    timeout, deadline
        Seconds one socket operation may wait, and the whole download may take.
    max_bytes, max_unpacked
        Largest archive, and largest total of its unpacked files, accepted.

    Raises
    ------
    BundleFetchError
        With one line naming the URL (secrets masked), the setting or the archive member at fault.
    """
    expected = sha256.strip().lower()
    if not _SHA256.match(expected):
        raise BundleFetchError(
            f"MODEL_BUNDLE_SHA256={sha256!r} is not a sha256 hex digest (64 hex characters); "
            "`python -m engine pack-bundle` prints the right value"
        )
    request = _request(url)
    shown = redact_url(url)
    target = Path(cache_dir) / expected
    bundle_dir = target / "bundle"
    if (bundle_dir / MANIFEST).is_file():
        return bundle_dir
    target.mkdir(parents=True, exist_ok=True)
    part = target / f".part-{secrets.token_hex(4)}"
    staging = target / f".unpack-{secrets.token_hex(4)}"
    try:
        got = _download(request, part, shown=shown, timeout=timeout, deadline=deadline, max_bytes=max_bytes)
        if got != expected:
            raise BundleFetchError(
                f"{shown}: the archive's sha256 is {got}, but MODEL_BUNDLE_SHA256 is {expected}; refusing it"
            )
        top = _safe_extract(part, staging, url=shown, max_unpacked=max_unpacked)
        try:
            os.rename(top, bundle_dir)  # atomic: a half-unpacked bundle is never at bundle_dir
        except OSError:
            if not (bundle_dir / MANIFEST).is_file():  # not another process winning the race
                raise BundleFetchError(f"{shown}: cannot unpack into {bundle_dir}") from None
    finally:
        part.unlink(missing_ok=True)
        shutil.rmtree(staging, ignore_errors=True)
        if not bundle_dir.exists():
            shutil.rmtree(target, ignore_errors=True)
    return bundle_dir


def serving_bundle(settings: Settings, *, timeout: float = 60.0, deadline: float = DEADLINE_S) -> Bundle:
    """The bundle the app serves: a local published one, else ``MODEL_BUNDLE_URL``, else the demo.

    Downloads only when no version is published locally. A refused download (a malformed URL,
    a wrong hash, a server too slow for ``deadline``) is logged and recorded in ``Bundle.notes``
    of the demo bundle that is served instead, with the URL's secrets masked. Raises
    BundleError only when nothing at all loads.
    """
    models_dir, demo = Path(settings.models_dir), Path(settings.demo_bundle_dir)
    url = settings.model_bundle_url.strip()
    if not url or current_version(models_dir) or list_versions(models_dir):
        return load_current(models_dir, fallback_dir=demo)
    try:
        path = fetch_bundle(url, sha256=settings.model_bundle_sha256, cache_dir=models_dir / DOWNLOAD_DIR,
                            timeout=timeout, deadline=deadline)
        return load_bundle(path)
    except BundleError as exc:
        note = f"MODEL_BUNDLE_URL refused, serving the demo bundle: {exc}"
        logger.warning(note)
    bundle = load_current(models_dir, fallback_dir=demo)
    return replace(bundle, notes=(*bundle.notes, note))


def redact_url(url: str) -> str:
    """``url`` fit for a log line, an error or a page: userinfo and every query value masked
    (``https://***@host/b.tar.gz?sig=***``), the fragment dropped."""
    try:
        parts = urlsplit(url.strip())
        netloc = parts.netloc
        if "@" in netloc:
            netloc = "***@" + netloc.rsplit("@", 1)[1]
        # "key=value" keeps its key (sig, X-Amz-Signature: no secret); a bare item may be a token
        query = "&".join(f"{item.split('=', 1)[0]}=***" if "=" in item else "***"
                         for item in re.split(r"[&;]", parts.query) if item)
        shown = urlunsplit((parts.scheme, netloc, parts.path, query, ""))
    except ValueError:
        return "(a malformed URL)"
    return _CONTROL.sub("?", shown)


def _request(url: str) -> urllib.request.Request:
    """The GET request for ``url``, or BundleFetchError with a sentence on what is wrong with it.

    urllib cannot take credentials from a URL, so userinfo becomes a Basic ``Authorization``
    header — an unredirected one: a redirect to another host (object storage) never sees it.
    """
    shown = redact_url(url)
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
        _ = parts.port  # parsing the port checks it: "host:99999" and "host:x" raise here
    except ValueError as exc:
        raise BundleFetchError(f"MODEL_BUNDLE_URL={shown!r} is not a valid address ({exc}); "
                               "set it to the https:// address of a `pack-bundle` archive") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise BundleFetchError(f"MODEL_BUNDLE_URL={shown!r} must be an http(s):// address of a .tar.gz bundle")
    if not host or _CONTROL.search(url.strip()):
        raise BundleFetchError(f"MODEL_BUNDLE_URL={shown!r} is not a valid address (no host name, or spaces or "
                               "control characters in it); set it to the https:// address of a `pack-bundle` archive")
    netloc = parts.netloc.rsplit("@", 1)[-1]
    request = urllib.request.Request(
        urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, "")),
        headers={"User-Agent": "music-recommender bundle fetch"},
    )
    if parts.username is not None or parts.password is not None:
        user, password = unquote(parts.username or ""), unquote(parts.password or "")
        token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        request.add_unredirected_header("Authorization", f"Basic {token}")
    return request


def _download(request: urllib.request.Request, dest: Path, *, shown: str, timeout: float, deadline: float,
              max_bytes: int) -> str:
    """Stream ``request`` into ``dest`` (at most ``max_bytes``, within ``deadline`` seconds in
    all); return the sha256 of the bytes.

    The deadline is checked after every read, and each read returns as soon as any bytes
    arrive (``read1``), so a trickling server is cut off on time; a silent one is cut off by
    the socket ``timeout`` (capped at the deadline).
    """
    digest, size = hashlib.sha256(), 0
    start = time.monotonic()

    def check_deadline() -> None:
        if time.monotonic() - start > deadline:
            raise BundleFetchError(f"{shown}: not downloaded within the {deadline:g} s deadline "
                                   f"({size:,} bytes so far); refusing it")

    try:
        with urllib.request.urlopen(request, timeout=min(timeout, deadline)) as resp, open(dest, "wb") as out:
            length = resp.headers.get("Content-Length", "")
            if length.isdigit() and int(length) > max_bytes:
                raise BundleFetchError(f"{shown}: {int(length):,} bytes, larger than {max_bytes:,}; refusing it")
            while True:
                check_deadline()
                block = resp.read1(1 << 20)
                if not block:
                    break
                size += len(block)
                if size > max_bytes:
                    raise BundleFetchError(f"{shown}: larger than {max_bytes:,} bytes; refusing it")
                digest.update(block)
                out.write(block)
    except urllib.error.HTTPError as exc:
        raise BundleFetchError(f"{shown}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as exc:
        reason = getattr(exc, "reason", None) or type(exc).__name__
        raise BundleFetchError(f"{shown}: download failed ({reason})") from None
    return digest.hexdigest()


def _safe_extract(archive: Path, dest: Path, *, url: str, max_unpacked: int = MAX_UNPACKED_BYTES) -> Path:
    """Unpack ``archive`` into ``dest`` after checking every member; return the bundle folder.

    Checked by hand before ``tarfile``'s own ``data`` filter runs as a second line: a bundle is
    regular files only, so links of any kind are refused outright, and the error names the
    member (the filter would accept in-tree symlinks and word its errors for developers).
    Members are read one header at a time and their sizes summed as they come, so a gzip bomb
    is refused at the header that crosses ``max_unpacked``, before its data is inflated.
    """
    try:
        with tarfile.open(archive, mode="r:gz") as tar:
            members: list[tarfile.TarInfo] = []
            tops, total = set(), 0
            for m in tar:
                members.append(m)
                total += m.size if m.isfile() else 0
                if total > max_unpacked or len(members) > MAX_MEMBERS:
                    raise BundleFetchError(
                        f"{url}: the archive unpacks to more than {max_unpacked:,} bytes or {MAX_MEMBERS:,} "
                        f"files (at member {m.name!r}); refusing it"
                    )
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
