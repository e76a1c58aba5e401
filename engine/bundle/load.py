"""Reading a model bundle: verify it against its manifest, memory-map it, pick the one to serve.

:func:`verify_bundle_dir` checks the manifest's ``schema_version``, that every listed file
exists with its recorded size and sha256, and that the required files are listed; it raises
:class:`~engine.core.errors.BundleError` naming the file at fault. :func:`load_bundle` returns
a frozen :class:`Bundle` whose arrays (and ``extra/*.npy``) are read-only memory maps, so a
large catalogue costs only the pages a request touches; ``items.parquet`` is read whole as
Arrow (pandas frames of it are made on first use) and ``tables/*.parquet`` as pandas.
:func:`load_current` serves ``models/CURRENT``, else the newest older version that verifies,
else the committed demo bundle, and records every refused bundle in ``Bundle.notes`` (and the
log) so the app can say why. The layout is :mod:`engine.bundle.layout`. numpy/pandas only (the
app uses it; no pyspark).

Nothing in a bundle is trusted: a manifest that is not a JSON object, an entry without
``sha256``/``bytes``, a ``created_at`` that is not an ISO timestamp, a path that leaves the
bundle folder, or a file whose hash matches but whose contents numpy, pyarrow or json cannot
read (or whose shape disagrees with the others) is a BundleError like a hash mismatch, so the
previous good bundle serves instead. ``tests/fuzz/test_bundle_fuzz.py`` holds the loader to it.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import mmap
import os
import re
import weakref
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path
from tokenize import TokenError
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pyarrow import ArrowException

from engine.bundle.layout import (
    ARRAY_FILES,
    CURRENT_FILE,
    MANIFEST,
    SCHEMA_VERSION,
    VERSION_NAME,
    bundle_file,
    current_version,
    list_versions,
    version_dir,
)
from engine.core.errors import BundleError
from engine.core.files import sha256_file
from engine.core.schemas import BUNDLE_ITEM_COLUMNS

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Bundle:
    """A loaded, verified model bundle. Arrays are read-only memory maps.

    The items table is read once, as Arrow (``item_table``: strings and lists in contiguous
    buffers, ~80 MiB for 600k tracks); pandas frames of it are made on first use:
    :attr:`item_columns` (Arrow-backed, no copy: what serving reads) and :attr:`items` (numpy
    and Python objects, ~550 MiB for 600k tracks: what pages and the evaluation read).

    Attributes
    ----------
    item_table : pyarrow.Table
        Row ``i`` describes item ``i`` (``BUNDLE_ITEM_COLUMNS``).
    item_factors : numpy.ndarray
        float32 ``[n_items, rank]`` ALS item factors ``Y`` (zero rows without factors).
    gram : numpy.ndarray
        float32 ``[rank, rank]``, ``YᵀY``.
    params : dict
        Training parameters: ``rank, reg_param, alpha, weight_transform, weight_epsilon,
        weight_clip, max_iter, ...`` — fold-in must use the same ones.
    """

    path: Path
    version: str
    manifest: dict[str, Any]
    item_table: pa.Table
    item_factors: np.ndarray
    gram: np.ndarray
    item_norms: np.ndarray
    popularity: np.ndarray
    audio_features: np.ndarray
    kmeans: dict[str, Any]
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @cached_property
    def items(self) -> pd.DataFrame:
        """The items table as plain pandas (numpy columns, Python objects in list and text
        columns), converted on first use; row ``i`` describes item ``i``."""
        return self.item_table.to_pandas()

    @cached_property
    def item_columns(self) -> pd.DataFrame:
        """The items table as Arrow-backed pandas columns (no copy of the Arrow buffers): the
        compact frame serving reads (``engine.serving``), same rows and columns as :attr:`items`."""
        return self.item_table.to_pandas(types_mapper=pd.ArrowDtype)

    @property
    def params(self) -> dict[str, Any]:
        """Training parameters recorded in the manifest."""
        return self.manifest.get("params", {})

    @property
    def rank(self) -> int:
        """Number of latent factors."""
        return int(self.item_factors.shape[1])

    @property
    def n_items(self) -> int:
        """Number of items (rows of items.parquet)."""
        return int(self.item_factors.shape[0])



# -- reading ---------------------------------------------------------------------------------

#: What numpy, pyarrow, pandas or json raise on bytes that are not what their name says (a
#: header numpy's literal_eval chokes on, a truncated parquet footer, an mmap longer than the
#: file). Each becomes a BundleError naming the file.
_UNREADABLE = (ValueError, TypeError, KeyError, IndexError, OSError, EOFError, OverflowError, SyntaxError,
               TokenError, MemoryError, RecursionError, ArrowException)
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def read_manifest(path: Path) -> dict[str, Any]:
    """The manifest of the bundle in ``path``, checked for shape (not yet against the files).

    Raises BundleError naming the manifest and the field at fault: not a JSON object, a wrong
    ``schema_version``, a ``version`` that is not a folder name, a ``created_at`` that is not an
    ISO timestamp, ``params``/``data``/``metrics`` that are not objects, or a ``files`` entry
    without a sha256 hex digest and a byte count.
    """
    file = Path(path) / MANIFEST
    try:
        manifest = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BundleError(f"{path}: no {MANIFEST}") from None
    except json.JSONDecodeError as exc:
        raise BundleError(f"{file}: not valid JSON ({exc.msg})") from None
    except (OSError, ValueError, RecursionError) as exc:  # a folder, unreadable, not UTF-8, nested too deep
        raise BundleError(f"{file}: unreadable ({type(exc).__name__})") from None
    if not isinstance(manifest, dict):
        raise BundleError(f"{file}: holds {_kind(manifest)}, not a JSON object")
    schema = manifest.get("schema_version")
    if type(schema) is not int or schema != SCHEMA_VERSION:
        raise BundleError(f"{path}: schema_version {_short(schema)}, this code reads {SCHEMA_VERSION}")
    version = manifest.get("version")
    if not isinstance(version, str) or not VERSION_NAME.match(version):
        raise BundleError(f"{file}: version {_short(version)} is not a version name")
    created = manifest.get("created_at")
    if not isinstance(created, str) or not _is_iso(created):
        raise BundleError(f"{file}: created_at {_short(created)} is not an ISO 8601 timestamp")
    for key in ("params", "data", "metrics"):
        if not isinstance(manifest.get(key, {}), dict):
            raise BundleError(f"{file}: {key} holds {_kind(manifest[key])}, not a JSON object")
    files = manifest.get("files")
    if not isinstance(files, dict):
        raise BundleError(f"{file}: files holds {_kind(files)}, not a JSON object")
    for name, entry in files.items():
        if not isinstance(entry, dict):
            raise BundleError(f"{file}: files[{_short(name)}] holds {_kind(entry)}, not an object")
        size, digest = entry.get("bytes"), entry.get("sha256")
        if type(size) is not int or size < 0:
            raise BundleError(f"{file}: files[{_short(name)}].bytes is {_short(size)}, not a byte count")
        if not isinstance(digest, str) or not _SHA256.match(digest):
            raise BundleError(f"{file}: files[{_short(name)}].sha256 is {_short(digest)}, not a sha256 hex digest")
    return manifest


def verify_bundle_dir(path: Path) -> dict[str, Any]:
    """Check a bundle directory against its manifest; return the manifest or raise BundleError."""
    path = Path(path)
    manifest = read_manifest(path)
    files = manifest["files"]
    for name, entry in files.items():
        file = bundle_file(path, name)
        if not file.is_file():
            raise BundleError(f"{file}: listed in the manifest but missing")
        if file.stat().st_size != entry["bytes"] or sha256_file(file) != entry["sha256"]:
            raise BundleError(f"{file}: contents do not match the manifest sha256")
    for required in ("items.parquet", "kmeans.json", *(f"{a}.npy" for a in ARRAY_FILES)):
        if required not in files:
            raise BundleError(f"{path}: manifest does not list {required}")
    return manifest


def load_bundle(path: Path, *, verify: bool = True) -> Bundle:
    """Load (and by default verify) the bundle in ``path``; arrays are memory-mapped.

    Raises BundleError naming the file when one cannot be read or disagrees with the others
    (row counts, the rank of ``gram``, the feature count of ``audio_features``).
    """
    path = Path(path)
    manifest = verify_bundle_dir(path) if verify else read_manifest(path)
    arrays = {name: _npy(path, f"{name}.npy") for name in ARRAY_FILES}
    extra = {Path(name).stem: _npy(path, name, extra=True) for name in manifest["files"] if name.startswith("extra/")}
    tables = {Path(name).stem: _parquet(path, name) for name in manifest["files"] if name.startswith("tables/")}
    items = _arrow_table(path, "items.parquet")
    missing = [c for c in BUNDLE_ITEM_COLUMNS if c not in items.column_names]
    if missing:
        raise BundleError(f"{path / 'items.parquet'}: lacks column(s) {', '.join(missing)}")
    kmeans = _json_object(path, "kmeans.json")
    _check_shapes(path, items.num_rows, arrays, kmeans)
    return Bundle(
        path=path,
        version=manifest["version"],
        manifest=manifest,
        item_table=items,
        kmeans=kmeans,
        extra=extra,
        tables=tables,
        item_factors=arrays["item_factors"],
        gram=arrays["gram"],
        item_norms=arrays["item_norms"],
        popularity=arrays["popularity"],
        audio_features=arrays["audio_features"],
    )


def load_current(models_dir: Path, *, fallback_dir: Path | None = None) -> Bundle:
    """Load the serving bundle: ``CURRENT``, else the newest older version that verifies,
    else ``fallback_dir`` (the committed demo bundle). Each refused bundle is logged and listed
    in ``Bundle.notes`` (one line each) so the app can say why; raises BundleError when
    nothing loads. ``CURRENT`` and the version folders must stay inside ``models_dir``."""
    models_dir = Path(models_dir)
    notes: list[str] = []
    current = current_version(models_dir)
    if current is None and (models_dir / CURRENT_FILE).exists():
        notes.append(f"refused {CURRENT_FILE}: {models_dir / CURRENT_FILE} is not a readable text file")
        logger.warning("model bundle %s", notes[-1])
    names = ([current] if current else []) + [v for v in reversed(list_versions(models_dir)) if v != current]
    candidates: list[tuple[str, Path | None]] = [(name, None) for name in names]
    if fallback_dir is not None:
        candidates.append((Path(fallback_dir).name, Path(fallback_dir)))
    for name, path in candidates:
        try:
            bundle = load_bundle(path if path is not None else version_dir(models_dir, name))
        except BundleError as exc:
            shown = name if VERSION_NAME.match(name) else _short(name)
            logger.warning("model bundle %s refused: %s", shown, exc)
            notes.append(f"refused {shown}: {exc}")
            continue
        return dataclasses.replace(bundle, notes=tuple(notes))
    raise BundleError("; ".join(notes) or f"no model bundle in {models_dir} (run `make run` or `python -m engine train`)")


# -- checks ----------------------------------------------------------------------------------


def _check_shapes(path: Path, n: int, arrays: dict[str, np.ndarray], kmeans: dict[str, Any]) -> None:
    """Raise BundleError unless the arrays agree with each other and with the items table."""
    factors = arrays["item_factors"]
    if factors.ndim != 2 or factors.shape[0] != n:
        raise BundleError(f"{path}: items.parquet has {n} rows, item_factors has shape {factors.shape}")
    rank = factors.shape[1]
    expected = {"gram": (rank, rank), "item_norms": (n,), "popularity": (n,)}
    for name, shape in expected.items():
        if arrays[name].shape != shape:
            raise BundleError(f"{path / (name + '.npy')}: shape {arrays[name].shape}, expected {shape}")
    audio = arrays["audio_features"]
    names = kmeans.get("feature_names")
    width = len(names) if isinstance(names, list) else (audio.shape[1] if audio.ndim == 2 else -1)
    if audio.shape != (n, width):
        raise BundleError(f"{path / 'audio_features.npy'}: shape {audio.shape}, expected {(n, width)}")


def _map_of(arr: np.ndarray) -> mmap.mmap | None:
    """The memory map under a (view of a) memory-mapped bundle array, if any."""
    base: object = arr
    while base is not None and not isinstance(base, mmap.mmap):
        base = getattr(base, "_mmap", None) or getattr(base, "base", None)
    return base if isinstance(base, mmap.mmap) else None


def _advise(arr: np.ndarray, advice: str) -> bool:
    found, flag = _map_of(arr), getattr(mmap, advice, None)
    if found is None or flag is None:
        return False
    try:
        found.madvise(flag)
    except (OSError, ValueError):  # a closed map, a platform without it
        return False
    return True


def release_pages(arr: np.ndarray) -> bool:
    """Unmap the pages this process has touched in a memory-mapped bundle array (Linux
    ``madvise(MADV_DONTNEED)``; the file stays in the page cache and the next read maps it
    again). For a pass that reads a whole array once (a load-time range check) and would
    otherwise leave it counted in the process RSS. Returns whether anything was released."""
    return _advise(arr, "MADV_DONTNEED")


class FileSlices:
    """Slices of a 1-D bundle array read straight from its ``.npy`` file with ``os.pread``.

    For arrays a request reads a few hundred short rows of (the neighbour lists: 480 MB at
    600k items and 100 neighbours). Through the memory map those pages count in the process
    RSS until :func:`release_pages` unmaps them, and the next request faults them in again:
    200 rows of both lists cost 2.4 ms that way and 0.5 ms with ``pread``
    (``bench/serve.py``'s catalogue), which copies from the page cache and maps nothing.
    numpy has no scattered file read, hence one ``pread`` per slice. Thread-safe: ``pread``
    takes its own offset. Made by :meth:`of`, only for a whole memory-mapped ``.npy`` array.
    """

    def __init__(self, file: str, offset: int, dtype: np.dtype, length: int) -> None:
        self.file, self.offset, self.dtype, self.length = file, offset, np.dtype(dtype), length
        self._fd = os.open(file, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        weakref.finalize(self, os.close, self._fd)  # the descriptor lives as long as the reader

    @classmethod
    def of(cls, arr: np.ndarray) -> FileSlices | None:
        """A reader of ``arr`` when it is a whole 1-D array memory-mapped from its ``.npy`` file
        (as :func:`load_bundle` maps them), else None: an in-memory array, a view of part of a
        map, or a platform without ``os.pread``."""
        filename = getattr(arr, "filename", None)
        if not isinstance(arr, np.memmap) or filename is None or arr.ndim != 1 or not hasattr(os, "pread"):
            return None
        try:
            whole = arr.flags.c_contiguous and os.path.getsize(filename) == arr.offset + arr.nbytes
            reader = cls(filename, int(arr.offset), arr.dtype, len(arr)) if whole else None
        except OSError:
            return None
        if reader is not None and len(arr) and (
            reader.read(np.array([0, len(arr) - 1]), np.array([1, 1])).tobytes() != arr[[0, -1]].tobytes()
        ):
            return None  # not the bytes the map shows (a view that happens to end with the file)
        return reader

    def read(self, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """The slices ``[starts[r], starts[r] + lengths[r])`` concatenated, as a new array.

        Raises ``BundleError`` naming the file when it ends early (changed since it was loaded)
        or a slice leaves the array."""
        size = self.dtype.itemsize
        starts, lengths = np.asarray(starts, dtype=np.int64), np.asarray(lengths, dtype=np.int64)
        if len(starts) and (int(starts.min()) < 0 or int((starts + lengths).max()) > self.length):
            raise BundleError(f"{self.file}: a slice outside its {self.length} entries was asked for")
        fd = self._fd
        parts = [os.pread(fd, n * size, self.offset + s * size)
                 for s, n in zip(starts.tolist(), lengths.tolist()) if n]
        data = b"".join(parts)
        if len(data) != int(lengths.sum()) * size:
            raise BundleError(f"{self.file}: ended early (changed since the bundle was loaded)")
        return np.frombuffer(data, dtype=self.dtype)


def _readable_kind(dtype: np.dtype, *, extra: bool) -> bool:
    """Floats; for an ``extra`` array also integers, booleans, text, or records whose every field
    is a plain number."""
    if not extra:
        return dtype.kind == "f"
    if dtype.fields is not None:
        return bool(dtype.names) and all(dtype[f].kind in "biuf" and dtype[f].shape == () for f in dtype.names or ())
    return dtype.kind in "biufU"


def _npy(path: Path, name: str, *, extra: bool = False) -> np.ndarray:
    """One ``.npy`` of the bundle, memory-mapped, at least 1-D: floats; an ``extra`` array may
    also hold integers, booleans, fixed-width text (e.g. ``extra/artist_ids``) or records of
    numbers (``extra/neighbours_entries``), never objects."""
    file = bundle_file(path, name)
    try:
        arr = np.load(file, mmap_mode="r", allow_pickle=False)
    except _UNREADABLE as exc:
        raise BundleError(f"{file}: not a readable .npy array ({type(exc).__name__})") from None
    if not isinstance(arr, np.ndarray) or not _readable_kind(arr.dtype, extra=extra) or arr.ndim == 0:
        what = f"{arr.dtype} of shape {arr.shape}" if isinstance(arr, np.ndarray) else type(arr).__name__
        raise BundleError(f"{file}: holds {what}, expected an array of {'numbers or text' if extra else 'floats'}")
    return arr


def _arrow_table(path: Path, name: str) -> pa.Table:
    """One parquet table of the bundle, read whole as Arrow (its pandas form is made on use).

    The conversion to pandas is tried here on the first rows, so a table whose types pandas
    cannot hold is refused at load like an unreadable one."""
    file = bundle_file(path, name)
    try:
        # Without the pandas metadata: a table written from Arrow-backed columns records dtype
        # names (``list<item: string>[pyarrow]``) that to_pandas cannot parse back; the index
        # is a plain range either way (bundles are written with index=False).
        table = pq.read_table(file).replace_schema_metadata(None)
        table.slice(0, 1).to_pandas()
    except _UNREADABLE as exc:
        raise BundleError(f"{file}: not a readable parquet table ({type(exc).__name__})") from None
    finally:
        pa.default_memory_pool().release_unused()  # the decode buffers (~100 MiB for 600k rows)
    return table


def _parquet(path: Path, name: str) -> pd.DataFrame:
    """One parquet table of the bundle, read whole."""
    file = bundle_file(path, name)
    try:
        return pd.read_parquet(file)
    except _UNREADABLE as exc:
        raise BundleError(f"{file}: not a readable parquet table ({type(exc).__name__})") from None


def _json_object(path: Path, name: str) -> dict[str, Any]:
    """One JSON file of the bundle that must hold an object."""
    file = bundle_file(path, name)
    try:
        value = json.loads(file.read_text(encoding="utf-8"))
    except _UNREADABLE as exc:
        raise BundleError(f"{file}: not readable JSON ({type(exc).__name__})") from None
    if not isinstance(value, dict):
        raise BundleError(f"{file}: holds {_kind(value)}, not a JSON object")
    return value


def _is_iso(text: str) -> bool:
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def _kind(value: object) -> str:
    """``null``, ``a list``, ``the int 3``… for a one-line error about a JSON value."""
    if value is None:
        return "null"
    if isinstance(value, (bool, int, float)):
        return f"the {type(value).__name__} {value!r}"
    if isinstance(value, list):
        return "a list"
    return "a string" if isinstance(value, str) else type(value).__name__


def _short(value: object) -> str:
    """``repr`` of a manifest value, cut to 60 characters for a one-line message."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
