"""MODEL_BUNDLE_URL: pack a bundle, serve it from a real local HTTP server, fetch, verify, cache.

No mocks: ``http.server`` on 127.0.0.1 serves the archives ``engine.bundle.pack`` writes, and
``engine.bundle.fetch`` downloads them with urllib like a hosted app would.
"""

from __future__ import annotations

import functools
import hashlib
import io
import tarfile
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import streamlit as st

from engine.__main__ import main as cli
from engine.bundle.fetch import (
    DOWNLOAD_DIR,
    BundleFetchError,
    fetch_bundle,
    serving_bundle,
)
from engine.bundle.load import load_bundle
from engine.bundle.pack import pack_bundle
from engine.bundle.publish import publish_bundle, write_bundle
from engine.core.config import Settings
from tests.factories import random_bundle_parts


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
    monkeypatch.setenv("MODEL_BUNDLE_URL", f"{server}/{www['archive'].name}")
    monkeypatch.setenv("MODEL_BUNDLE_SHA256", "f" * 64)
    monkeypatch.setenv("APP_STATE_SECRET", "test-state-secret")
    for var in ("SPOTIFY_CLIENT_ID", "SPOTIFY_CLIENT_SECRET"):
        monkeypatch.setenv(var, "")
    st.cache_resource.clear()
    st.cache_data.clear()
    try:
        at = run(start().switch_page("pages/model.py"))
        warnings = " ".join(w.value for w in at.warning)
        assert "MODEL_BUNDLE_URL refused" in warnings and "f" * 64 in warnings
        assert any("built-in demo bundle" in i.value for i in at.info)
    finally:
        st.cache_resource.clear()
        st.cache_data.clear()
