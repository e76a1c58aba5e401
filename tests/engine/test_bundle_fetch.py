"""MODEL_BUNDLE_URL: pack a bundle, serve it from a real local HTTP server, fetch, verify, cache.

No mocks: ``http.server`` on 127.0.0.1 serves the archives ``engine.bundle.pack`` writes, and
``engine.bundle.fetch`` downloads them with urllib like a hosted app would.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import logging
import shutil
import tarfile
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import streamlit as st

from engine.__main__ import main as cli
from engine.bundle.fetch import (
    DOWNLOAD_DIR,
    BundleFetchError,
    fetch_bundle,
    redact_url,
    serving_bundle,
)
from engine.bundle.load import load_bundle
from engine.bundle.pack import pack_bundle
from engine.bundle.publish import publish_bundle, write_bundle
from engine.core.config import Settings
from tests.factories import random_bundle_parts

SECRET = "s3cr3t-t0ken"  # a credential in MODEL_BUNDLE_URL: it must never be shown or logged


class _Handler(SimpleHTTPRequestHandler):
    requests: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        type(self).requests.append(self.path)
        super().do_GET()

    def log_message(self, *args: object) -> None:  # keep pytest output clean
        pass


@pytest.fixture(scope="module")
def www(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A packed bundle plus a few hostile archives, in one folder the server serves."""
    root = tmp_path_factory.mktemp("fetch")
    src, site = root / "src", root / "www"
    version = publish_bundle(src, **random_bundle_parts(seed=1))
    archive, digest = pack_bundle(src / version, site)
    hostile = {
        "traversal.tar.gz": [("../evil.txt", b"x")],
        "absolute.tar.gz": [("/tmp/evil-abs.txt", b"x")],
        "two-tops.tar.gz": [("a/manifest.json", b"{}"), ("b/manifest.json", b"{}")],
    }
    for name, files in hostile.items():
        _write_tar(site / name, files)
    _write_tar(site / "link.tar.gz", [("v/manifest.json", b"{}")], link=("v/items.parquet", "/etc/passwd"))
    # A correctly hashed archive whose bundle does not match its own manifest.
    tampered = root / "tampered"
    with tarfile.open(archive) as tar:
        tar.extractall(tampered, filter="data")
    (tampered / version / "popularity.npy").write_bytes(b"\x93NUMPY tampered")
    _write_tar(site / "tampered.tar.gz", [(str(p.relative_to(tampered)), p.read_bytes())
                                          for p in sorted(tampered.rglob("*")) if p.is_file()])
    return {"site": site, "archive": archive, "digest": digest, "version": version, "src": src / version}


@pytest.fixture(scope="module")
def server(www: dict) -> Iterator[str]:
    """Base URL of a real HTTP server on 127.0.0.1 serving ``www['site']``."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Handler, directory=str(www["site"])))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture()
def models(tmp_path: Path) -> Path:
    """A models dir with only the demo bundle (nothing published)."""
    write_bundle(tmp_path / "models" / "demo", **random_bundle_parts(seed=2))
    return tmp_path / "models"


def _settings(models: Path, url: str = "", sha256: str = "") -> Settings:
    return Settings.from_env({}, env_file=None).with_overrides(
        models_dir=models, demo_bundle_dir=models / "demo", model_bundle_url=url, model_bundle_sha256=sha256
    )


def _write_tar(path: Path, files: list[tuple[str, bytes]], *, link: tuple[str, str] | None = None) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        if link:
            info = tarfile.TarInfo(link[0])
            info.type, info.linkname = tarfile.SYMTYPE, link[1]
            tar.addfile(info)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_pack_is_reproducible_and_holds_only_the_manifest_files(www: dict, tmp_path: Path) -> None:
    again, digest = pack_bundle(www["src"], tmp_path)
    assert digest == www["digest"]  # same bundle, same bytes
    assert (tmp_path / f"{again.name}.sha256").read_text() == f"{digest}  {again.name}\n"
    with tarfile.open(again) as tar:
        names = sorted(tar.getnames())
    manifest = load_bundle(www["src"]).manifest
    assert names == sorted(f"{www['version']}/{n}" for n in ["manifest.json", *manifest["files"]])


def test_good_hash_downloads_verifies_and_is_cached(www: dict, server: str, models: Path) -> None:
    url = f"{server}/{www['archive'].name}"
    _Handler.requests.clear()
    bundle = serving_bundle(_settings(models, url, www["digest"]))
    assert bundle.version == www["version"] and not bundle.notes
    assert bundle.path == models / DOWNLOAD_DIR / www["digest"] / "bundle"
    assert _Handler.requests == [f"/{www['archive'].name}"]
    # A restart (a new load) reuses the unpacked copy: no second download.
    again = serving_bundle(_settings(models, url, www["digest"].upper()))
    assert again.version == www["version"] and len(_Handler.requests) == 1


def test_bad_hash_is_refused_and_the_demo_bundle_served(www: dict, server: str, models: Path) -> None:
    wrong = hashlib.sha256(b"something else").hexdigest()
    bundle = serving_bundle(_settings(models, f"{server}/{www['archive'].name}", wrong))
    assert bundle.path == models / "demo"
    assert len(bundle.notes) == 1
    note = bundle.notes[0]
    assert "MODEL_BUNDLE_URL refused" in note and www["digest"] in note and f"MODEL_BUNDLE_SHA256 is {wrong}" in note
    assert not (models / DOWNLOAD_DIR / wrong).exists()  # nothing half-downloaded is kept


def test_a_bundle_that_fails_its_manifest_is_refused(www: dict, server: str, models: Path) -> None:
    digest = hashlib.sha256((www["site"] / "tampered.tar.gz").read_bytes()).hexdigest()
    bundle = serving_bundle(_settings(models, f"{server}/tampered.tar.gz", digest))
    assert bundle.path == models / "demo"
    assert "popularity.npy: contents do not match the manifest sha256" in bundle.notes[0]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("traversal.tar.gz", "'../evil.txt' points outside the bundle"),
        ("absolute.tar.gz", "'/tmp/evil-abs.txt' points outside the bundle"),
        ("link.tar.gz", "'v/items.parquet' is a link or device"),
        ("two-tops.tar.gz", "expected one bundle folder in the archive, found ['a', 'b']"),
    ],
)
def test_unsafe_archives_are_refused(www: dict, server: str, tmp_path: Path, name: str, message: str) -> None:
    digest = hashlib.sha256((www["site"] / name).read_bytes()).hexdigest()
    cache = tmp_path / "deep" / "cache"
    with pytest.raises(BundleFetchError) as err:
        fetch_bundle(f"{server}/{name}", sha256=digest, cache_dir=cache)
    assert message in str(err.value)
    assert not (tmp_path / "deep" / "evil.txt").exists() and not (cache / "evil.txt").exists()
    assert not (cache / digest).exists()


def test_bad_settings_and_http_errors_name_the_culprit(server: str, tmp_path: Path) -> None:
    good = "0" * 64
    with pytest.raises(BundleFetchError, match="MODEL_BUNDLE_SHA256=''"):
        fetch_bundle(f"{server}/x.tar.gz", sha256="", cache_dir=tmp_path)
    with pytest.raises(BundleFetchError, match="MODEL_BUNDLE_URL='file:///etc/passwd' must be an http"):
        fetch_bundle("file:///etc/passwd", sha256=good, cache_dir=tmp_path)
    with pytest.raises(BundleFetchError, match=r"/missing\.tar\.gz: HTTP 404"):
        fetch_bundle(f"{server}/missing.tar.gz", sha256=good, cache_dir=tmp_path)


def test_a_locally_published_bundle_wins_without_downloading(www: dict, server: str, models: Path) -> None:
    local = publish_bundle(models, **random_bundle_parts(seed=3))
    _Handler.requests.clear()
    bundle = serving_bundle(_settings(models, f"{server}/{www['archive'].name}", www["digest"]))
    assert bundle.version == local and _Handler.requests == []


def test_pack_bundle_command(www: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    models = tmp_path / "models"
    monkeypatch.setenv("MODELS_DIR", str(models))
    assert cli(["pack-bundle"]) == 2
    assert "no published bundle to pack" in capsys.readouterr().err
    version = publish_bundle(models, **random_bundle_parts(seed=1))
    assert cli(["pack-bundle", "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    digest = hashlib.sha256((tmp_path / "out" / f"{version}.tar.gz").read_bytes()).hexdigest()
    assert f'MODEL_BUNDLE_SHA256 = "{digest}"' in out


def test_app_model_page_says_why_it_serves_the_demo(www: dict, server: str, models: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.app.helpers import run, start

    monkeypatch.setenv("MODELS_DIR", str(models))
    monkeypatch.setenv("DEMO_BUNDLE_DIR", str(models / "demo"))
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    host = server.removeprefix("http://")
    monkeypatch.setenv("MODEL_BUNDLE_URL", f"http://me:{SECRET}@{host}/{www['archive'].name}?sig={SECRET}")
    monkeypatch.setenv("MODEL_BUNDLE_SHA256", "f" * 64)
    monkeypatch.setenv("APP_STATE_SECRET", "test-state-secret")
    for var in ("SPOTIFY_CLIENT_ID", "SPOTIFY_CLIENT_SECRET"):
        monkeypatch.setenv(var, "")
    st.cache_resource.clear()
    st.cache_data.clear()
    try:
        at = run(start().switch_page("pages/model.py"))
        warnings = " ".join(w.value for w in at.warning).replace("\\", "")  # Markdown escapes
        assert "MODEL_BUNDLE_URL refused" in warnings and "f" * 64 in warnings
        assert f"http://***@{host}/{www['archive'].name}?sig=***" in warnings  # which URL, secrets masked
        page = " ".join(str(getattr(e, "value", "")) for e in (*at.main, *at.sidebar))
        assert SECRET not in page and str(models) not in page
        assert any("built-in demo bundle" in i.value for i in at.info)
    finally:
        st.cache_resource.clear()
        st.cache_data.clear()


# -- hardening: secrets in the URL, malformed URLs, the deadline, the unpacked size -------------

class _Tricky(BaseHTTPRequestHandler):
    """``/auth/<file>`` needs Basic auth ``me:SECRET``; ``/drip`` trickles a byte every 20 ms."""

    site: Path
    seen_auth: list[str | None] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        if self.path.startswith("/drip"):
            self.send_response(200)
            self.send_header("Content-Length", str(10**6))
            self.end_headers()
            try:
                for _ in range(3000):  # a minute at most; the client hangs up long before
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.02)
            except OSError:
                pass
            return
        auth = self.headers.get("Authorization")
        type(self).seen_auth.append(auth)
        expected = "Basic " + base64.b64encode(f"me:{SECRET}".encode()).decode()
        file = self.site / self.path.split("?")[0].removeprefix("/auth/")
        if auth != expected or not file.is_file():
            self.send_error(401 if auth != expected else 404)
            return
        data = file.read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def tricky(www: dict) -> Iterator[str]:
    """``host:port`` of a server with the :class:`_Tricky` routes over ``www['site']``."""
    _Tricky.site = www["site"]
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Tricky)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_redact_url_masks_userinfo_and_query_values() -> None:
    assert redact_url(f"https://me:{SECRET}@example.org/b.tar.gz?sig={SECRET}&se=2026#frag") == (
        "https://***@example.org/b.tar.gz?sig=***&se=***"
    )
    assert redact_url(f"https://example.org/b.tar.gz?{SECRET}") == "https://example.org/b.tar.gz?***"
    assert redact_url("https://[::1/x") == "(a malformed URL)"
    assert redact_url("https://example.org/plain.tar.gz") == "https://example.org/plain.tar.gz"


def test_userinfo_is_sent_as_basic_auth_and_never_shown(www: dict, tricky: str, models: Path,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    url = f"http://me:{SECRET}@{tricky}/auth/{www['archive'].name}?token={SECRET}"
    _Tricky.seen_auth.clear()
    bundle = serving_bundle(_settings(models, url, www["digest"]))
    assert bundle.version == www["version"] and not bundle.notes  # the credentials worked
    assert _Tricky.seen_auth == ["Basic " + base64.b64encode(f"me:{SECRET}".encode()).decode()]
    # A refused download says which URL, with the secrets masked, in the notes and in the log.
    with caplog.at_level(logging.WARNING):
        refused = serving_bundle(_settings(models, url.replace(www["archive"].name, "missing.tar.gz"), "e" * 64))
    assert refused.path == models / "demo"
    assert f"http://***@{tricky}/auth/missing.tar.gz?token=***: HTTP 404" in refused.notes[0]
    assert SECRET not in refused.notes[0] and SECRET not in caplog.text and "***@" in caplog.text


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://[::1/b.tar.gz", "is not a valid address"),
        ("http://example.org:99999/b.tar.gz", "is not a valid address (Port out of range"),
        ("http:///b.tar.gz", "no host name"),
        ("https://exa mple.org/b.tar.gz", "spaces or control characters"),
        ("ftp://example.org/b.tar.gz", "must be an http(s):// address"),
        ("example.org/b.tar.gz", "must be an http(s):// address"),
    ],
)
def test_a_malformed_url_serves_the_demo_bundle_with_a_sentence(models: Path, url: str, why: str) -> None:
    bundle = serving_bundle(_settings(models, url, "a" * 64))
    assert bundle.path == models / "demo"
    (note,) = bundle.notes
    assert note.startswith("MODEL_BUNDLE_URL refused, serving the demo bundle: MODEL_BUNDLE_URL=") and why in note
    assert "\n" not in note and not (models / DOWNLOAD_DIR).exists()


def test_a_trickling_server_is_cut_off_by_the_overall_deadline(tricky: str, tmp_path: Path) -> None:
    # Bytes keep coming every 20 ms, so the 30 s socket timeout never fires: only the deadline can stop it.
    with pytest.raises(BundleFetchError, match=r"/drip: not downloaded within the 0\.3 s deadline \([1-9][\d,]* bytes so far\)"):
        fetch_bundle(f"http://{tricky}/drip", sha256="b" * 64, cache_dir=tmp_path / "cache", timeout=30, deadline=0.3)
    assert not (tmp_path / "cache" / ("b" * 64)).exists()


def test_the_unpacked_size_is_limited(www: dict, server: str, tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.tar.gz"  # 4 MB of zeros in a few kB: refused at its header
    with tarfile.open(bomb, "w:gz") as tar:
        info = tarfile.TarInfo("v/manifest.json")
        info.size = 4 << 20
        tar.addfile(info, io.BytesIO(bytes(info.size)))
    shutil.copy(bomb, www["site"] / "bomb.tar.gz")
    digest = hashlib.sha256(bomb.read_bytes()).hexdigest()
    cache = tmp_path / "cache"
    with pytest.raises(BundleFetchError, match=r"bomb\.tar\.gz: the archive unpacks to more than 1,048,576 bytes"):
        fetch_bundle(f"{server}/bomb.tar.gz", sha256=digest, cache_dir=cache, max_unpacked=1 << 20)
    assert not (cache / digest).exists()
    # The real bundle fits a limit of its own size, and not one byte less.
    unpacked = sum(p.stat().st_size for p in www["src"].rglob("*") if p.is_file())
    with pytest.raises(BundleFetchError, match="unpacks to more than"):
        fetch_bundle(f"{server}/{www['archive'].name}", sha256=www["digest"], cache_dir=cache, max_unpacked=unpacked - 1)
    assert (fetch_bundle(f"{server}/{www['archive'].name}", sha256=www["digest"], cache_dir=cache,
                         max_unpacked=unpacked) / "manifest.json").is_file()
