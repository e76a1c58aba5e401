"""Serving latency vs one bare ``Y @ x`` pass, on a catalogue of the real size.

Writes a bundle of ~600k items with random factors (rank 64 and 128) and a realistic items
table (22-char ids, artists, genres, years, explicit, energy, clusters) to a temporary directory
(``--out DIR``: kept there, and reused by the next run with the same catalogue), then measures
in a fresh process that loads it the way the app does (``Recommender.load``, arrays
memory-mapped). ``--artists`` picks the artist draw: ``kaggle`` (default) is calibrated to the
real 600k catalogue (top artist ~3.6k tracks, 1.28 credits per track; see ``KAGGLE_S``),
``zipf08`` is the earlier, head-heavy one (top artist ~20k tracks, 1.57 credits). Each block
prints the catalogue's top artist and how many tracks a history's own artists have (what the
familiar list starts from). ``--against DIR`` times another checkout's engine on the same
bundles, alternating with this one (``--rounds`` times per rank), for before/after in one run;
its bundles hold the neighbour lists in the two arrays bundles had before the entries array,
which every checkout reads (one from before it refuses a bundle holding the entries), so that
comparison leaves out the one-read-per-row lists. Every block prints the load average before
and after it. The factors are laid out as ``engine train`` publishes them (column-major up to
rank 64, ``engine.bundle.publish.factor_order``); ``--order C`` or ``F`` forces one layout.

- p50/p99 of fold-in + recommend (k=50, default re-ranking: known tracks masked, at most 2 per
  artist, explanations) for a 200-track history, as a ratio to one bare ``Y @ x`` of the same
  size timed in the same loop (target <= 1.5), over the bundle's own layout;
- the same bare pass over a row-major copy of a column-major bundle's factors (the layout every
  bundle had before), beside the model ranking in a loop of its own, after the RSS readings;
- the served blend (engine.serving.blend: ALS + top-N item neighbours, ``--top-n`` random neighbours
  per item, like ``engine train`` ships) next to ALS alone on the same bundle in the same loop:
  p50 of each and their ratio (the neighbour lookup's cost);
- fold-in alone, in microseconds;
- the process RSS with the catalogue loaded (anonymous vs file-backed pages);
- the model's own ranking (``discovery=None``) and ``lists()`` (what the app's page calls);
- the opt-in int8 pass (``Recommender(quantize=True)``, engine.serving.quantized: candidates
  by an upper bound, re-scored exactly) on the same bundle after the default's numbers: the
  pass alone, the default request and the model ranking against bare ``Y @ x`` in one loop,
  recall@k of its lists against the float32 pass's (here and on the trained demo bundle's
  listeners), and the RSS with both recommenders loaded (the second one's own arrays
  included: the int8 pass's own cost needs a process serving it alone, as in the README).

Every request is timed as a new listener's: the recommender keeps the last history each thread
solved (a page's rerun reuses its fold-in and blend terms), and the loop forgets it before each
timed request. The model ranking is also timed as a rerun (the same history straight after), the
case a Streamlit page's reruns hit.

Prints numbers, never a pass/fail. The last line is ``ratio: N.NN`` (the worst p50 ratio of
the served (blended) recommend to the bare pass). ``--quick``: rank 64 only, 30 reps, under a
minute; it prints its wall time.
Usage: ``python bench/serve.py [--quick] [--items 600000] [--ranks 64 128] [--reps 200] [--top-n 100]
[--artists kaggle|zipf08] [--order C|F] [--out DIR] [--against CHECKOUT [--rounds N]]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

ROOT = Path(__file__).resolve().parent.parent
#: The checkout whose engine a ``--measure`` child imports (``--against`` points it at another
#: one, so two versions of the code are timed on the same bundles in one run).
CODE = Path(os.environ.get("BENCH_SERVE_CODE", ROOT)).resolve()
sys.path.insert(0, str(CODE))

from engine.bundle.publish import publish_bundle
from engine.core.blas import quiet_blas_helpers
from engine.core.schemas import CLUSTER_FEATURES
from engine.serving.blend import BlendWeights
from engine.serving.neighbours import ItemNeighbours

ALPHABET = np.array(list("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"))


def _lists(offsets: np.ndarray, values: pa.Array) -> pd.Series:
    """An Arrow-backed list column from CSR offsets and the flat values."""
    return pd.Series(pd.arrays.ArrowExtensionArray(pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), values)))


#: The artist draw calibrated to the real catalogue (``--artists kaggle``, the default). Fitted
#: once by ``bench/fit_artists.py`` on two independent random 10k-track samples of the Kaggle
#: 600k ``tracks.csv`` (column ``id_artists``): per 10k tracks they hold 8,557 / 8,678 distinct
#: artists, 77-78% of them once, the top artist 69 / 51 times (one track in 58.7, so ~3-4k
#: tracks at full size), 1.28 credits per track. A Zipf-Mandelbrot draw ``1 / (rank + Q)^S``
#: over ``n / KAGGLE_ITEMS_PER_ARTIST`` artists with the credit counts below, drawn at 600k and
#: sampled back to 10k, gives ~8.3k distinct, 80% once, top ~59 (full size: top ~3.5k tracks),
#: the best point of the script's grid (``python bench/fit_artists.py SAMPLE_A SAMPLE_B``).
KAGGLE_S, KAGGLE_Q, KAGGLE_ITEMS_PER_ARTIST = 0.8, 8.0, 10
#: Credits per track (1, 2, ..., 8 or more) in the two samples together (20,000 tracks).
KAGGLE_CREDITS = {1: 16_437, 2: 2_443, 3: 722, 4: 221, 5: 70, 6: 38, 7: 20, 8: 49}
#: The artist draws ``realistic_items`` knows: ``kaggle`` (calibrated, above) and ``zipf08``
#: (the bench's earlier draw: Zipf(0.8) over n/6 artists, 1-3 credits, the top artist ~20k tracks).
ARTIST_DRAWS = ("kaggle", "zipf08")


def _credits(n: int, rng: np.random.Generator, artists: str) -> tuple[int, np.ndarray, np.ndarray]:
    """``(n_artists, credits per track, artist weights)`` of one of :data:`ARTIST_DRAWS`."""
    if artists == "zipf08":
        n_artists = max(10, n // 6)
        # Zipf-like artist sizes: a few prolific artists, a long tail with one or two tracks.
        weights = 1.0 / np.arange(1, n_artists + 1) ** 0.8
        return n_artists, rng.choice([1, 1, 1, 1, 2, 2, 3], size=n), weights
    if artists != "kaggle":
        raise ValueError(f"--artists {artists!r}: expected one of {', '.join(ARTIST_DRAWS)}")
    n_artists = max(10, n // KAGGLE_ITEMS_PER_ARTIST)
    weights = 1.0 / (np.arange(1, n_artists + 1) + KAGGLE_Q) ** KAGGLE_S
    counts = np.array(list(KAGGLE_CREDITS.values()), dtype=np.float64)
    return n_artists, rng.choice(np.array(list(KAGGLE_CREDITS)), size=n, p=counts / counts.sum()), weights


def realistic_items(n: int, rng: np.random.Generator, artists: str = "zipf08") -> pd.DataFrame:
    """An items table shaped like the Spotify 600k catalogue (built in numpy and Arrow: a few
    seconds, where a Python loop per track took ~20 s); ``artists`` picks the artist draw
    (:data:`ARTIST_DRAWS`; the other benches that build on this one keep ``zipf08``, the draw
    their numbers were measured on, unless they pass another)."""
    ids = ALPHABET[rng.integers(0, 62, size=(n, 22))].view("<U22").ravel()
    n_genres = 2_000
    n_artists, per_track, weights = _credits(n, rng, artists)
    credit_ptr = np.concatenate([[0], np.cumsum(per_track)])
    credits = rng.choice(n_artists, size=int(credit_ptr[-1]), p=weights / weights.sum())
    # Distinct artists per track (a repeated draw is dropped), first-credited first.
    owner = np.repeat(np.arange(n), per_track)
    first_seen = np.unique(owner * n_artists + credits, return_index=True)[1]
    keep = np.zeros(len(credits), dtype=bool)
    keep[first_seen] = True
    owner, credits = owner[keep], credits[keep]
    artist_ptr = np.concatenate([[0], np.cumsum(np.bincount(owner, minlength=n))])
    # 0-4 genres per artist; a track's genres are the sorted union of its artists'.
    g_count = rng.integers(0, 5, size=n_artists)
    g_ptr = np.concatenate([[0], np.cumsum(g_count)])
    g_codes = rng.integers(0, n_genres, size=int(g_ptr[-1]))
    lengths = g_count[credits]
    pair_owner = np.repeat(owner, lengths)
    pair_genre = g_codes[np.repeat(g_ptr[credits], lengths) + np.arange(int(lengths.sum()))
                         - np.repeat(np.cumsum(lengths) - lengths, lengths)]
    names = np.char.add("genre ", np.arange(n_genres).astype(str))
    order = np.unique(pair_owner * n_genres + np.searchsorted(np.sort(names), names)[pair_genre], return_index=True)[1]
    pair_owner, pair_genre = pair_owner[order], pair_genre[order]  # by track, then genre name: sorted sets
    genre_ptr = np.concatenate([[0], np.cumsum(np.bincount(pair_owner, minlength=n))])
    artist_names = pa.array(np.char.add("Artist ", np.arange(n_artists).astype(str)))
    artist_ids = pa.array(np.char.add("artist", np.char.zfill(np.arange(n_artists).astype(str), 6)))
    return pd.DataFrame(
        {
            "track_id": ids,
            "name": np.char.add("Track ", np.arange(n).astype(str)),
            "artists": _lists(artist_ptr, artist_names.take(pa.array(credits))),
            "artist_ids": _lists(artist_ptr, artist_ids.take(pa.array(credits))),
            "year": rng.integers(1922, 2022, size=n).astype("int32"),
            "popularity": rng.integers(0, 100, size=n).astype("int32"),
            "explicit": rng.random(n) < 0.05,
            "energy": rng.random(n),
            "cluster": rng.integers(0, 12, size=n).astype("int32"),
            "x": rng.normal(size=n),
            "y": rng.normal(size=n),
            "genres": _lists(genre_ptr, pa.array(names).take(pa.array(pair_genre))),
            "has_factors": np.ones(n, dtype=bool),
            "has_audio": np.ones(n, dtype=bool),
        }
    )


def random_neighbours(n: int, top_n: int, rng: np.random.Generator) -> ItemNeighbours:
    """``top_n`` random neighbours per item (sorted cosines), random listener counts."""
    indices = rng.integers(0, n, size=(n, top_n), dtype=np.int32).ravel()
    scores = -np.sort(-rng.random((n, top_n), dtype=np.float32), axis=1).ravel()
    indptr = np.arange(0, n * top_n + 1, top_n, dtype=np.int64)
    listeners = rng.integers(1, 5_000, size=n).astype(np.float32)
    return ItemNeighbours(indptr, indices, scores, listeners)


def bundle_dir(out: Path, *, n_items: int, rank: int, top_n: int, artists: str, seed: int = 0,
               older_lists: bool = False, order: str | None = None) -> Path:
    """Where :func:`write_bundles` puts one bundle (its parameters in the name, so a kept
    ``--out`` directory is reused only for the same catalogue, lists and factor layout:
    ``-columns`` for column-major factors)."""
    # Imported here: a --measure child imports an older checkout's engine, which may lack it.
    from engine.bundle.publish import factor_order

    layout = "-columns" if (order or factor_order(rank)) == "F" else ""
    return out / f"{artists}-{n_items}-top{top_n}-seed{seed}{'-older-lists' if older_lists else ''}" / f"rank{rank}{layout}"


def write_bundles(out: Path, *, n_items: int, ranks: list[int], top_n: int = 100, seed: int = 0,
                  artists: str = "zipf08", older_lists: bool = False, order: str | None = None) -> dict[int, Path]:
    """One published bundle per rank (:func:`bundle_dir`); returns rank -> models dir. Bundles
    already there (a kept ``--out``) are reused. ``older_lists``: the neighbour lists in the
    two arrays (indices, scores) of bundles from before the entries array, which older
    checkouts read (they refuse a bundle that holds the entries) and this one too. ``order``:
    the factors' layout (``"C"`` / ``"F"``; None: as ``engine train`` publishes them)."""
    dirs = {r: bundle_dir(out, n_items=n_items, rank=r, top_n=top_n, artists=artists, seed=seed,
                          older_lists=older_lists, order=order) for r in ranks}
    if all((d / "CURRENT").exists() for d in dirs.values()):
        print(f"bundles reused from {out}", flush=True)
        return dirs
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    items = realistic_items(n_items, rng, artists)
    print(f"items table: {n_items:,} rows, artists {artists!r} ({time.perf_counter() - t0:.1f}s)", flush=True)
    n_feat = len(CLUSTER_FEATURES)
    audio = rng.normal(size=(n_items, n_feat)).astype(np.float32)
    popularity = rng.random(n_items).astype(np.float32)
    kmeans = {"k": 12, "feature_names": list(CLUSTER_FEATURES), "scaler_mean": [0.0] * n_feat,
              "scaler_std": [1.0] * n_feat, "centroids": rng.normal(size=(12, n_feat)).tolist(), "sizes": [0] * 12}
    t0 = time.perf_counter()
    lists = random_neighbours(n_items, top_n, rng) if top_n else None
    extra = lists.to_extra() if lists is not None else {}
    if lists is not None and older_lists:
        # Imported here: a --measure child imports an older checkout's engine, which may lack it.
        from engine.serving.neighbours import extra_names

        names = extra_names()
        del extra[names.entries]
        extra |= {names.indices: lists.indices, names.scores: lists.scores}
    print(f"neighbours: {top_n} per item ({time.perf_counter() - t0:.1f}s)", flush=True)
    for rank in ranks:
        t0 = time.perf_counter()
        factors = (rng.normal(size=(n_items, rank)) * 0.1).astype(np.float32)
        params = {"rank": rank, "reg_param": 0.1, "alpha": 10.0, "weight_transform": "log1p",
                  "weight_epsilon": 1.0, "weight_clip": 100.0, "max_iter": 10,
                  "blend": BlendWeights().to_dict(), "neighbours": {"top_n": top_n}}
        models = dirs[rank]
        publish_bundle(models, items=items, item_factors=factors, popularity=popularity, audio_features=audio,
                       kmeans=kmeans, params=params, extra=extra, data_stats={"source": "bench/serve.py random factors"},
                       **({"order": order} if order is not None else {}))
        print(f"bundle rank {rank}: written ({time.perf_counter() - t0:.1f}s)", flush=True)
    return dirs


def _rss() -> dict[str, int]:
    """VmRSS / RssAnon / RssFile of this process in MiB (Linux)."""
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "RssAnon", "RssFile"):
            out[key] = int(value.split()[0]) // 1024
    return out


def _recall(got: list[np.ndarray], want: list[np.ndarray]) -> float:
    """Mean share of each wanted list found in the served one."""
    return float(np.mean([len(set(g.tolist()) & set(w.tolist())) / max(1, len(w)) for g, w in zip(got, want)]))


def _int8_twin(rec):  # noqa: ANN001, ANN202 - the engine under test may be another checkout
    """The same bundle served from the int8 copy, or None for an engine without it."""
    try:
        return type(rec)(rec.bundle, quantize=True)
    except TypeError:
        return None


def measure(models: Path, *, reps: int, history_len: int, k: int, seed: int = 1) -> dict:
    """Run in a fresh process: load like the app, time serving vs bare ``Y @ x``."""
    import copy
    import threading

    from engine.serving.options import Options
    from engine.serving.recommender import Recommender

    rss_start = _rss()
    t0 = time.perf_counter()
    rec = Recommender.load(models)
    load_s = time.perf_counter() - t0
    rss_loaded = _rss()
    # ALS alone on the same recommender's arrays (no second copy of anything): the blend off.
    als = copy.copy(rec)
    als._blend, als._prior_scan, als._last = None, None, threading.local()
    rng = np.random.default_rng(seed)
    ids = rec.track_ids
    histories = [
        dict(zip(ids[rng.choice(len(ids), history_len, replace=False)], rng.geometric(0.1, history_len).astype(float)))
        for _ in range(20)
    ]
    y = rec._scan  # the matrix serving scans: the same memory map, the same size
    x = rng.normal(size=rec.rank).astype(np.float32)
    for h in histories[:3]:  # warm up: page in the factors, build lazy tables
        rec.recommend(h, Options(k=k))
        rec.recommend(h, Options(k=k, discovery=None))
        als.recommend(h, Options(k=k))
        y @ x
    bare, serve, fold, plain, als_only, model, rerun, lists = [], [], [], [], [], [], [], []

    def timed(into: list, call, *args):
        t = time.perf_counter()
        result = call(*args)
        into.append(time.perf_counter() - t)
        return result

    def fresh(into: list, call, *args):  # noqa: ANN001, ANN202 - call: a method of a recommender
        """Time ``call`` as a new listener's request. A recommender keeps the last history it
        solved per thread (so a page's rerun reuses the fold-in and blend terms): forget it
        first, or a request on the history the previous call just solved would skip them."""
        call.__self__._last = threading.local()
        return timed(into, call, *args)

    for r in range(reps):  # one of each per repetition, in this order: they see the same load
        h = histories[r % len(histories)]
        timed(bare, y.__matmul__, x)
        out = fresh(serve, rec.recommend, h, Options(k=k))
        timed(fold, rec.fold_in, h)
        fresh(plain, rec.recommend, h, Options(k=k, explain=False))
        fresh(als_only, als.recommend, h, Options(k=k))
        fresh(model, rec.recommend, h, Options(k=k, discovery=None))
        timed(rerun, rec.recommend, h, Options(k=k, discovery=None))  # the same history again: a rerun
        fresh(lists, rec.lists, h, Options(k=k))
    assert len(out) == k and out.path == "als"
    # The catalogue's head, as a request sees it: the most credited artist's tracks, and the
    # tracks of a history's own artists (what the familiar list starts from).
    n_tracks = np.diff(rec.artists.artist_items.indptr)
    own_tracks = []
    for h in histories:
        codes = np.unique(rec.artists.item_artist[rec.index_of(list(h))].indices)
        own_tracks.append(len(np.unique(rec.artists.artist_items[codes].indices)))
    assert (rec.blend is not None) == bool(rec.bundle.extra) and als.blend is None
    rss_served = _rss()
    # A column-major bundle's pass against the row-major one every bundle had before, beside
    # the model ranking, in a loop of their own (the row-major copy is not the app's memory).
    rows: dict[str, list] = {"bare": [], "rows": [], "model": []}
    if not y.flags.c_contiguous:
        y_rows = np.ascontiguousarray(y)
        for r in range(reps):
            h = histories[r % len(histories)]
            timed(rows["bare"], y.__matmul__, x)
            timed(rows["rows"], y_rows.__matmul__, x)
            fresh(rows["model"], rec.recommend, h, Options(k=k, discovery=None))
        del y_rows
    # The opt-in int8 pass on the same bundle, timed in its own loop beside the bare pass.
    int8: dict[str, list] = {"pass": [], "bare": [], "serve": [], "model": []}
    model_recall = lists_recall = float("nan")
    q = _int8_twin(rec)
    if q is not None:
        for h in histories[:3]:  # warm up (compiles the kernel on the first call)
            q.recommend(h, Options(k=k))
        for r in range(reps):
            h = histories[r % len(histories)]
            timed(int8["bare"], y.__matmul__, x)
            timed(int8["pass"], q.scan.quantized.upper, x)
            fresh(int8["serve"], q.recommend, h, Options(k=k))
            fresh(int8["model"], q.recommend, h, Options(k=k, discovery=None))
        model_recall = _recall([q.recommend(h, Options(k=k, discovery=None)).indices for h in histories],
                               [rec.recommend(h, Options(k=k, discovery=None)).indices for h in histories])
        lists_recall = _recall([q.recommend(h, Options(k=k)).indices for h in histories],
                               [rec.recommend(h, Options(k=k)).indices for h in histories])
    rss_int8 = _rss()
    p = lambda a, q: float(np.percentile(a, q))  # noqa: E731
    return {
        "rank": rec.rank,
        "code": str(CODE),
        "top_artist_tracks": int(n_tracks.max()),
        "own_tracks_median": float(np.median(own_tracks)),
        "own_tracks_max": int(max(own_tracks)),
        "n_items": rec.bundle.n_items,
        "load_s": load_s,
        "bare_p50_ms": p(bare, 50) * 1e3,
        "serve_p50_ms": p(serve, 50) * 1e3,
        "serve_p99_ms": p(serve, 99) * 1e3,
        "ratio_p50": p(serve, 50) / p(bare, 50),
        "ratio_p99": p(serve, 99) / p(bare, 50),
        "plain_p50_ms": p(plain, 50) * 1e3,
        "als_p50_ms": p(als_only, 50) * 1e3,
        "blend_vs_als_p50": p(serve, 50) / p(als_only, 50),
        "model_p50_ms": p(model, 50) * 1e3,
        "model_ratio_p50": p(model, 50) / p(bare, 50),
        "rerun_p50_ms": p(rerun, 50) * 1e3,
        "rerun_ratio_p50": p(rerun, 50) / p(bare, 50),
        "lists_p50_ms": p(lists, 50) * 1e3,
        "fold_in_p50_us": p(fold, 50) * 1e6,
        "fold_in_p99_us": p(fold, 99) * 1e6,
        "column_major": bool(y.flags.f_contiguous and not y.flags.c_contiguous),
        **({f"rows_{name}_p50_ms": p(v, 50) * 1e3 for name, v in rows.items()} if rows["bare"] else {}),
        **({f"int8_{name}_p50_ms": p(v, 50) * 1e3 for name, v in int8.items()} if q is not None else {}),
        "int8_model_recall": model_recall,
        "int8_lists_recall": lists_recall,
        "int8_mib": q.scan.quantized.nbytes / 2**20 if q is not None else 0.0,
        "rss_int8_mib": rss_int8,
        "rss_start_mib": rss_start,
        "rss_loaded_mib": rss_loaded,
        "rss_served_mib": rss_served,
    }


def demo_recall(k: int) -> float | None:
    """recall@k of the int8-served model ranking against the float32 one on the committed
    trained bundle (models/demo, its demo listeners)."""
    from engine.bundle.load import load_bundle
    from engine.serving.recommender import Recommender

    demo = ROOT / "models" / "demo"
    if not (demo / "manifest.json").exists():
        return None
    from engine.serving.options import Options

    exact = Recommender(load_bundle(demo))
    rec = _int8_twin(exact)
    table = exact.bundle.tables.get("demo_history")
    if table is None or rec is None:
        return None
    histories = [dict(zip(g["track_id"], g["weight"].astype(float))) for _, g in table.groupby("user_id")][:50]
    opts = Options(k=k, discovery=None)
    return _recall([rec.recommend(h, opts).indices for h in histories], [exact.recommend(h, opts).indices for h in histories])


def _child(models: Path, args: argparse.Namespace, reps: int, code: Path | None) -> dict:
    """One ``--measure`` run in a fresh process (``code``: import the engine from that checkout)."""
    env = dict(os.environ, BENCH_SERVE_CODE=str(code)) if code is not None else None
    child = subprocess.run(
        [sys.executable, __file__, "--measure", str(models), "--reps", str(reps),
         "--history", str(args.history), "--k", str(args.k)],
        capture_output=True, text=True, check=True, env=env,
    )
    return json.loads(child.stdout.strip().splitlines()[-1])


def _load() -> str:
    """The 1-minute load average (the machine is shared: every number goes with it)."""
    return f"{os.getloadavg()[0]:.1f}"


def _int8_report(m: dict, k: int) -> str:
    """The opt-in int8 pass's lines (empty for an engine without it)."""
    if "int8_bare_p50_ms" not in m:
        return ""
    bare, rss = m["int8_bare_p50_ms"], m["rss_int8_mib"]
    return (
        f"  int8 pass (opt-in, {m['int8_mib']:.0f} MiB): its own loop, bare Y @ x p50 {bare:.2f} ms\n"
        f"    the pass p50 {m['int8_pass_p50_ms']:.2f} ms (x{m['int8_pass_p50_ms'] / bare:.2f}); "
        f"served request {m['int8_serve_p50_ms']:.2f} ms (x{m['int8_serve_p50_ms'] / bare:.2f}); "
        f"model ranking {m['int8_model_p50_ms']:.2f} ms (x{m['int8_model_p50_ms'] / bare:.2f})\n"
        f"    recall@{k} against the float32 pass: model ranking {m['int8_model_recall']:.3f}, "
        f"default request {m['int8_lists_recall']:.3f}; RSS with both recommenders loaded {rss['VmRSS']} MiB "
        f"(anon {rss['RssAnon']}, file {rss['RssFile']}; int8 alone in a process: see the README)\n"
    )


def _rows_report(m: dict) -> str:
    """The row-major pass's lines (empty for a row-major bundle, or an engine without them)."""
    if "rows_bare_p50_ms" not in m:
        return ""
    bare, rows, model = m["rows_bare_p50_ms"], m["rows_rows_p50_ms"], m["rows_model_p50_ms"]
    return (
        f"  the same pass over a row-major copy (the layout before), its own loop: p50 {rows:.2f} ms "
        f"against {bare:.2f} ms column-major (x{bare / rows:.2f});\n"
        f"    model ranking {model:.2f} ms: x{model / bare:.2f} of the column-major pass, x{model / rows:.2f} of the row-major one\n"
    )


def _report(m: dict, args: argparse.Namespace, reps: int, load_before: str) -> str:
    loaded, served = m["rss_loaded_mib"], m["rss_served_mib"]
    code = "" if Path(m["code"]) == ROOT else f", code {m['code']}"
    return (
        f"rank {m['rank']}, {m['n_items']:,} items, artists {args.artists!r}, {args.history}-track history, "
        f"k={args.k}, {reps} reps{code} (load {load_before} -> {_load()}):\n"
        f"  catalogue head: top artist {m['top_artist_tracks']:,} tracks; own-artist tracks per history "
        f"median {m['own_tracks_median']:,.0f}, max {m['own_tracks_max']:,}\n"
        f"  bare Y @ x            p50 {m['bare_p50_ms']:.2f} ms"
        f" ({'column' if m.get('column_major') else 'row'}-major factors)\n"
        f"  served (blend, lists) p50 {m['serve_p50_ms']:.2f} ms, p99 {m['serve_p99_ms']:.2f} ms"
        f"  (x{m['ratio_p50']:.2f} / x{m['ratio_p99']:.2f} of bare)\n"
        f"  ALS alone             p50 {m['als_p50_ms']:.2f} ms  (blend / ALS alone: x{m['blend_vs_als_p50']:.2f})\n"
        f"  without explanations  p50 {m['plain_p50_ms']:.2f} ms\n"
        f"  model ranking (discovery=None, blend) p50 {m['model_p50_ms']:.2f} ms  (x{m['model_ratio_p50']:.2f} of bare)\n"
        f"    rerun of the same history (fold-in and blend terms reused) p50 {m['rerun_p50_ms']:.2f} ms"
        f"  (x{m['rerun_ratio_p50']:.2f})\n"
        f"  lists() (the app's call: three lists, all explained) p50 {m['lists_p50_ms']:.2f} ms\n"
        f"  fold-in alone         p50 {m['fold_in_p50_us']:.0f} us, p99 {m['fold_in_p99_us']:.0f} us\n"
        + _rows_report(m)
        + _int8_report(m, args.k)
        + f"  load {m['load_s']:.1f} s; RSS MiB: start {m['rss_start_mib']['VmRSS']}, "
        f"loaded {loaded['VmRSS']} (anon {loaded['RssAnon']}, file {loaded['RssFile']}), "
        f"serving {served['VmRSS']} (anon {served['RssAnon']}, file {served['RssFile']})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=600_000)
    parser.add_argument("--ranks", type=int, nargs="+", default=None, help="default 64 128 (--quick: 64)")
    parser.add_argument("--reps", type=int, default=None, help="default 200 (--quick: 30)")
    parser.add_argument("--history", type=int, default=200)
    parser.add_argument("--k", type=int, default=50)
    parser.add_argument("--top-n", type=int, default=100, help="neighbours per item in the bundle (0: ALS only)")
    parser.add_argument("--artists", choices=ARTIST_DRAWS, default="kaggle",
                        help="the artist draw: kaggle (calibrated to the real catalogue, default) or zipf08 (the old one)")
    parser.add_argument("--order", choices=("C", "F"), help="the factors' layout (default: as engine train publishes them)")
    parser.add_argument("--out", type=Path, help="keep the bundles here (and reuse them when already there)")
    parser.add_argument("--against", type=Path, help="another checkout: time its engine too, alternating with this one")
    parser.add_argument("--rounds", type=int, default=1, help="with --against: alternations per rank")
    parser.add_argument("--quick", action="store_true", help="rank 64 only, 30 reps: under a minute")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # child mode: one bundle dir
    args = parser.parse_args()
    ranks = args.ranks or ([64] if args.quick else [64, 128])
    reps = args.reps or (30 if args.quick else 200)
    if args.measure:
        print(json.dumps(measure(args.measure, reps=reps, history_len=args.history, k=args.k)))
        return 0
    # The measured processes' OpenBLAS helpers sleep when idle, as in the app (engine.core.blas),
    # for every engine timed; OPENBLAS_THREAD_TIMEOUT=28 in the environment measures OpenBLAS's
    # default. (This process loaded numpy already: the setting is for the children.)
    quiet_blas_helpers()
    wall = time.perf_counter()
    ratios = []
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        out = args.out if args.out is not None else Path(tmp)
        dirs = write_bundles(out, n_items=args.items, ranks=ranks, top_n=args.top_n, artists=args.artists,
                             older_lists=args.against is not None, order=args.order)
        codes: list[Path | None] = [None] if args.against is None else [None, args.against.resolve()] * args.rounds
        for models in dirs.values():
            for code in codes:
                # A fresh process per bundle, so RSS shows what the app would hold, not the writer.
                load_before = _load()
                m = _child(models, args, reps, code)
                if code is None:
                    ratios.append(m["ratio_p50"])
                print(_report(m, args, reps, load_before), flush=True)
    found = demo_recall(args.k)
    if found is not None:
        print(f"int8 (opt-in) model ranking, recall@{args.k} against the float32 pass on the trained demo bundle "
              f"(models/demo, demo listeners): {found:.3f}")
    print(f"wall time {time.perf_counter() - wall:.0f} s")
    print(f"ratio: {max(ratios):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
