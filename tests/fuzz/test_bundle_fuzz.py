"""Fuzz the bundle loader: every mutated bundle either loads or falls back, nothing else.

A seeded generator (``random.Random``: the same inputs on every run, so a failure reproduces
by its index) breaks a small real bundle from ``tests.factories`` in 1–3 ways per input: the
manifest (replaced by any JSON value, keys dropped or retyped, file entries without ``bytes``
or with hostile paths, raw bytes cut or flipped), the arrays, tables and ``kmeans.json``
(truncated, bit-flipped, swapped for another dtype or shape, deleted, turned into a folder or
a link out of the bundle; half the time re-hashed so the reader, not the hash check, must
notice), and ``CURRENT`` (``../``, absolute, binary). ``models/`` also holds a good older
version, so ``load_current`` must always return: the mutated bundle when it is still coherent,
else the good one with a one-line note naming the refused one. Any other exception fails.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import random
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from engine.bundle.layout import CURRENT_FILE
from engine.bundle.load import Bundle, load_bundle, load_current
from engine.bundle.publish import publish_bundle, write_bundle
from engine.core.errors import BundleError
from tests.factories import random_bundle_parts

SEED = 20_2026
N_INPUTS = 3_000
CANDIDATE = "20991231T235959Z-fuzzfuzz"  # newer than the good version, so CURRENT and the listing pick it

JSON_VALUES: list[Any] = [None, [], {}, 0, -1, 1.5, True, "", "x", [1, 2], {"a": None}, "../x", 10**30,
                          float("nan"), "2026-01-01", "1e400", [[[]]], {"bytes": 1}]
HOSTILE_PATHS = ["../outside.npy", "../../outside.npy", "/etc/hostname", "extra/../../outside.npy", "",
                 "C:\\x.npy", "a\\..\\..\\b", ".", "extra/", "extra/./../../outside.npy", "\x00.npy",
                 "tables/../manifest.json", "//server/share.npy"]


def _npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=True)
    return buf.getvalue()


def _other_array(rng: random.Random) -> bytes:
    """A valid ``.npy`` of some other dtype or shape than the file it replaces."""
    shape = rng.choice([(), (0,), (3,), (16,), (16, 4), (4, 4), (16, 11), (2, 3, 4), (17,), (16, 5)])
    dtype = rng.choice(["float32", "float64", "int64", "bool", "complex64", "U3", "object", "float16"])
    if dtype == "object":
        return _npy(np.array([{"x": 1}] * (shape[0] if shape else 1), dtype=object))
    return _npy(np.zeros(shape, dtype=dtype))


def _flip(data: bytes, rng: random.Random) -> bytes:
    if not data:
        return bytes([rng.randrange(256)])
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        # the header matters most: aim half of the flips at the first 128 bytes
        pos = rng.randrange(min(len(out), 128)) if rng.random() < 0.5 else rng.randrange(len(out))
        out[pos] ^= 1 << rng.randrange(8)
    return bytes(out)


class Mutator:
    """The mutations of one input, applied to the candidate bundle in ``models/CANDIDATE``."""

    def __init__(self, models: Path, outside: Path, rng: random.Random) -> None:
        self.models, self.outside, self.rng = models, outside, rng
        self.folder = models / CANDIDATE
        # The files the harness itself may touch: the pristine candidate's, never a name a
        # mutated manifest came up with ("/etc/hostname" is one of them).
        self.known = sorted(self.manifest()["files"])

    # -- helpers -----------------------------------------------------------------------------
    def manifest(self) -> Any:
        """The candidate's manifest as JSON, or None once an earlier mutation made it unreadable."""
        try:
            return json.loads((self.folder / "manifest.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def write_manifest(self, value: Any) -> None:
        (self.folder / "manifest.json").write_text(json.dumps(value), encoding="utf-8")

    def files(self) -> list[str]:
        m = self.manifest()
        return sorted(m["files"]) if isinstance(m, dict) and isinstance(m.get("files"), dict) else []

    def rehash(self, name: str) -> None:
        """Make the manifest agree with the file again (when both still can)."""
        m, path = self.manifest(), self.folder / name
        if name in self.known and isinstance(m, dict) and isinstance(m.get("files"), dict) and path.is_file():
            data = path.read_bytes()
            m["files"][name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
            self.write_manifest(m)

    def edit(self, change: Callable[[dict], None]) -> None:
        m = self.manifest()
        if isinstance(m, dict) and isinstance(m.get("files"), dict):
            change(m)
            self.write_manifest(m)

    # -- the manifest ------------------------------------------------------------------------
    def whole_manifest(self) -> None:
        self.write_manifest(self.rng.choice(JSON_VALUES))

    def drop_key(self) -> None:
        key = self.rng.choice(["schema_version", "version", "created_at", "files", "params", "data", "metrics"])
        self.edit(lambda m: m.pop(key, None))

    def retype_key(self) -> None:
        key = self.rng.choice(["schema_version", "version", "created_at", "files", "params", "data", "metrics",
                               "n_items", "rank"])
        value = self.rng.choice(JSON_VALUES)
        self.edit(lambda m: m.__setitem__(key, value))

    def retype_entry(self) -> None:
        names = self.files()
        if names:
            name, field = self.rng.choice(names), self.rng.choice(["bytes", "sha256", None])
            value = self.rng.choice(JSON_VALUES)

            def change(m: dict) -> None:
                if field is None or not isinstance(m["files"].get(name), dict):
                    m["files"][name] = value
                elif self.rng.random() < 0.5:
                    m["files"][name].pop(field, None)
                else:
                    m["files"][name][field] = value
            self.edit(change)

    def hostile_entry(self) -> None:
        target = self.outside / "outside.npy"
        data = target.read_bytes()
        entry = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
        path = self.rng.choice([*HOSTILE_PATHS, str(target)])
        if self.rng.random() < 0.5 and self.files():  # replace a required entry by the hostile one
            self.edit(lambda m: m["files"].pop(self.rng.choice(sorted(m["files"])), None))
        self.edit(lambda m: m["files"].__setitem__(path, entry))

    def rename_entry(self) -> None:
        names = self.files()
        if names:
            old = self.rng.choice(names)
            self.edit(lambda m: m["files"].__setitem__(old + ".moved", m["files"].pop(old, None)))

    def manifest_bytes(self) -> None:
        path = self.folder / "manifest.json"
        data = path.read_bytes()
        path.write_bytes(data[: self.rng.randrange(len(data))] if self.rng.random() < 0.5 else _flip(data, self.rng))

    # -- the files ---------------------------------------------------------------------------
    def damage_file(self) -> None:
        name = self.rng.choice(self.known)
        path = self.folder / name
        if not path.is_file() or path.is_symlink():
            return
        data, how = path.read_bytes(), self.rng.randrange(6)
        if how == 0:
            new = data[: self.rng.randrange(max(1, len(data)))]
        elif how == 1:
            new = _flip(data, self.rng)
        elif how == 2:
            new = bytes(self.rng.randrange(256) for _ in range(self.rng.randrange(200)))
        elif how == 3 and name.endswith(".npy"):
            new = _other_array(self.rng)
        elif how == 4 and name.endswith(".parquet") and data[:4] == b"PAR1":
            frame = pd.read_parquet(path)
            new_frame = frame.head(self.rng.randrange(len(frame) + 1)) if self.rng.random() < 0.5 else \
                frame.drop(columns=[self.rng.choice(list(frame.columns))])
            buf = io.BytesIO()
            new_frame.to_parquet(buf, index=False)
            new = buf.getvalue()
        elif name.endswith(".json"):
            new = json.dumps(self.rng.choice([*JSON_VALUES, {"feature_names": ["a"]}, {"feature_names": None}])).encode()
        else:
            new = data[:-1]
        path.write_bytes(new)
        if self.rng.random() < 0.5:
            self.rehash(name)

    def replace_file(self) -> None:
        name = self.rng.choice(self.known)
        path = self.folder / name
        if not path.is_file() or path.is_symlink():
            return
        data = path.read_bytes()
        path.unlink()
        how = self.rng.randrange(5)
        if how == 0:
            return  # deleted
        if how == 1:
            path.mkdir()
        elif how == 2:  # the same bytes, but outside the bundle: the hash still matches
            out = self.outside / f"copy-{self.rng.randrange(10**9)}"
            out.write_bytes(data)
            path.symlink_to(out)
        elif how == 3:
            path.symlink_to(self.outside / "does-not-exist")
        else:
            path.symlink_to(path)  # a loop

    # -- CURRENT and models/ -------------------------------------------------------------------
    def current(self) -> None:
        text = self.rng.choice(["../outside", str(self.outside), "", "\x00\xff", "demo", ".download", "..",
                                "/", CANDIDATE + "/..", "a" * 300, "no-such-version", "`*x*`"])
        current = self.models / CURRENT_FILE
        if current.is_dir():
            current.rmdir()
        if self.rng.random() < 0.2:
            current.unlink(missing_ok=True)
            current.mkdir()
        else:
            current.write_bytes(text.encode("utf-8", "surrogateescape"))

    def linked_folder(self) -> None:
        """The candidate is a link to a copy of itself outside ``models/``."""
        if self.folder.is_symlink():
            return
        out = self.outside / f"bundle-{self.rng.randrange(10**9)}"
        shutil.move(str(self.folder), out)
        self.folder.symlink_to(out, target_is_directory=True)

    def apply(self) -> list[str]:
        ops = [self.whole_manifest, self.drop_key, self.retype_key, self.retype_entry, self.hostile_entry,
               self.rename_entry, self.manifest_bytes, self.damage_file, self.damage_file, self.damage_file,
               self.replace_file, self.current, self.linked_folder]
        chosen = [self.rng.choice(ops) for _ in range(self.rng.randint(1, 3))]
        for op in chosen:
            op()
        return [op.__name__ for op in chosen]


def _check_coherent(bundle: Bundle) -> None:
    """What the app relies on in any bundle that loads."""
    n = len(bundle.items)
    assert bundle.item_factors.shape[0] == n and bundle.item_factors.ndim == 2
    assert bundle.gram.shape == (bundle.rank, bundle.rank)
    assert bundle.item_norms.shape == bundle.popularity.shape == (n,)
    assert bundle.audio_features.shape[0] == n
    assert isinstance(bundle.manifest, dict) and isinstance(bundle.kmeans, dict) and isinstance(bundle.params, dict)


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A good published version, the candidate bundle's pristine copy, and a demo bundle."""
    root = tmp_path_factory.mktemp("bundle-fuzz")
    good = root / "good"
    publish_bundle(good, **random_bundle_parts(n_items=16, rank=4, n_groups=2, n_without_factors=2, seed=1))
    parts = random_bundle_parts(n_items=16, rank=4, n_groups=2, n_without_factors=2, seed=2)
    extra = {"neighbours_indptr": np.arange(17, dtype=np.int64), "item_listeners": np.ones(16, dtype=np.float32)}
    tables = {"demo_listeners": pd.DataFrame({"user_id": ["demo:001"], "name": ["x"]})}
    write_bundle(root / "candidate", extra=extra, tables=tables, **parts)
    m = json.loads((root / "candidate" / "manifest.json").read_text())
    m["version"] = CANDIDATE
    (root / "candidate" / "manifest.json").write_text(json.dumps(m))
    write_bundle(root / "demo", **random_bundle_parts(n_items=8, rank=4, n_groups=2, n_without_factors=1, seed=3))
    return {"good": good, "candidate": root / "candidate", "demo": root / "demo", "root": root}


@pytest.mark.slow
def test_every_mutated_bundle_loads_or_falls_back(sources: dict[str, Path], caplog: pytest.LogCaptureFixture) -> None:
    good_version = (sources["good"] / CURRENT_FILE).read_text().strip()
    uncaught: list[str] = []
    outcomes = {"loaded": 0, "fell back": 0, "demo": 0}
    logging.getLogger("engine.bundle.load").setLevel(logging.ERROR)  # 3,000 refusals need no log lines
    try:
        for i in range(N_INPUTS):
            rng = random.Random(SEED * 1_000_003 + i)
            case = sources["root"] / f"case-{i}"
            models, outside = case / "models", case / "outside"
            shutil.copytree(sources["good"], models, copy_function=os.link)  # never written: links are safe
            shutil.copytree(sources["candidate"], models / CANDIDATE)
            (models / CURRENT_FILE).write_text(CANDIDATE + "\n")
            outside.mkdir()
            np.save(outside / "outside.npy", np.ones(16, dtype=np.float32))
            ops = Mutator(models, outside, rng).apply()  # a failure here is the harness's, with its traceback
            try:
                try:
                    _check_coherent(load_bundle(models / CANDIDATE))
                except BundleError:
                    pass
                served = load_current(models, fallback_dir=sources["demo"])
                _check_coherent(served)
                if served.path == models / CANDIDATE:
                    outcomes["loaded"] += 1
                else:
                    assert served.notes, "fell back without saying why"
                    assert all("\n" not in note for note in served.notes)
                    outcomes["fell back" if served.version == good_version else "demo"] += 1
            except Exception as exc:  # the point of the test: report every input that escaped
                uncaught.append(f"input {i} {ops}: {type(exc).__name__}: {exc}")
            finally:
                shutil.rmtree(case)
    finally:
        logging.getLogger("engine.bundle.load").setLevel(logging.NOTSET)
    tried = sum(outcomes.values()) + len(uncaught)
    print(f"\nbundle fuzz: {tried:,} inputs tried (seed {SEED}): {outcomes['loaded']:,} loaded as mutated, "
          f"{outcomes['fell back']:,} fell back to the previous version, {outcomes['demo']:,} to the demo; "
          f"{len(uncaught)} uncaught")
    assert tried >= 3_000
    assert not uncaught, "\n".join(uncaught[:20])
    assert outcomes["loaded"] and outcomes["fell back"]  # both sides of the oracle were exercised
