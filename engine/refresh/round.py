"""One refresh round: retrain on new listening and publish only if the gate finds it not worse.

:func:`refresh_once`::

    lock models/.refresh.lock (held by a live refresher -> the round is skipped, exit 75;
                               left by a crashed one -> taken over; engine.core.locking)
    -> catch up on the events dir (engine.streaming.stream.ingest_pending, unless a running
       `engine stream` holds its lock)
    -> every track-level interactions dataset under data/parquet, each row with its arrival time
       (the modification time of the file that holds it); the stream's events through
       engine.streaming.stream.events_to_interactions; forgotten listeners dropped
       (engine.training.inputs.drop_forgotten)
    -> new = arrived after the serving model's watermark (``data.arrival_watermark_us`` in its
       manifest; its ``created_at`` for a bundle made elsewhere)
    -> nothing new: skipped.  Too few listeners with new tracks to judge: skipped (the new data
       waits for the next round).  No serving model: train and publish.
    -> holdout of new pairs + candidate trained on the rest (engine.refresh.gate, engine.training.run)
    -> gate: NDCG@10 and recall@50 of candidate vs serving model on that holdout
    -> publish atomically (engine.bundle.publish.publish_bundle, which prunes to KEEP_VERSIONS) or keep
    -> append the round to models/refresh_log.jsonl (the app's Model page reads it)

Parameters: command-line flags > the params file > the serving bundle's > Settings
(:func:`choose_params`, :func:`choose_blend`). ``--force`` publishes whatever the gate says
(recorded). The app serves the version in ``models/CURRENT`` and picks a new one up without a
restart.

Arrival is the file's modification time, so a dataset rewritten in place (``ingest-interactions``
run again) counts as new as a whole; its pairs the serving model already knew then enter the
holdout and favour the serving model — the gate errs towards keeping it. Append new files instead.

The log's format and reader live in :mod:`engine.state.refresh_log` (standard library only: the
app reads it); repeating rounds is :mod:`engine.refresh.loop`.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import reduce
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pyspark.sql import functions as F

from engine.bundle.layout import TMP_PREFIX, current_version
from engine.bundle.load import Bundle, load_bundle, load_current
from engine.bundle.publish import prune_versions, publish_bundle, write_bundle
from engine.core.config import Settings
from engine.core.errors import BundleError, InputError, one_line
from engine.core.locking import DEFAULT_STALE_AFTER_S, FileLock, LockHeld
from engine.core.progress import Progress
from engine.ingest.demo_listeners import demo_tables
from engine.refresh.gate import build_holdout, compare, score_bundle
from engine.state.refresh_log import RefreshRecord, append_log, now_iso
from engine.streaming.stream import (
    STREAM_TABLE,
    events_to_interactions,
    has_parquet,
    ingest_pending,
)
from engine.training.als import AlsParams
from engine.training.inputs import default_interaction_paths, drop_forgotten
from engine.training.params import ServedChoice, read_params_file
from engine.training.run import train

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

logger = logging.getLogger(__name__)

LOCK_FILE = ".refresh.lock"
#: Exit code of a round skipped because another refresher holds the lock (EX_TEMPFAIL).
EXIT_LOCKED = 75
_ALS_FLAGS = ("rank", "max_iter", "reg_param", "alpha", "weight_transform")


@dataclass(frozen=True)
class RefreshOptions:
    """Knobs of a refresh round (CLI flags)."""

    tolerance: float = 0.05
    gate_metrics: tuple[str, ...] = ("ndcg@10", "recall@50")
    min_test_users: int = 10
    min_items: int = 5
    seed: int = 42
    force: bool = False
    ingest: bool = True
    params_file: Path | None = None
    als_overrides: dict[str, Any] = field(default_factory=dict)
    kmeans_k: int | None = None
    stale_after_s: float = DEFAULT_STALE_AFTER_S


def _iso_us(us: int | None) -> str | None:
    return None if us is None else datetime.fromtimestamp(us / 1e6, UTC).isoformat(timespec="microseconds")


# -- data ----------------------------------------------------------------------------------------


def gather_interactions(spark: "SparkSession", settings: Settings) -> tuple["DataFrame", list[str], list[str]]:
    """Every track-level interactions dataset under ``data/parquet`` as one DataFrame.

    Columns ``user_id, track_id, weight, source, ts, arrival_us`` (arrival: modification time
    of the row's file, epoch µs). The stream's event table is turned into interactions by
    :func:`engine.streaming.stream.events_to_interactions`. Returns ``(rows, datasets, notes)``.
    """



    arrival = F.unix_micros(F.col("_metadata.file_modification_time")).alias("arrival_us")
    frames, names, notes = [], [], []
    for path in default_interaction_paths(settings):
        if not has_parquet(path):
            notes.append(f"{path.name}: no parquet files, skipped")
            continue
        if path.name == "interactions_app" and has_parquet(settings.parquet_dir / STREAM_TABLE):
            # Both come from the same app events; the stream's copy is deduplicated by event id.
            notes.append("interactions_app: skipped, the stream output holds the same app events")
            continue
        df = spark.read.parquet(str(path))
        if path.name == STREAM_TABLE:
            events = df.select("user_id", "track_id", "weight", "kind", F.col("ts").cast("timestamp").alias("ts"), arrival)
            frames.append(events_to_interactions(events))
        elif "track_id" not in df.columns:
            notes.append(f"{path.name}: artist-level interactions, not part of the track model")
            continue
        else:
            ts = F.col("ts").cast("timestamp") if "ts" in df.columns else F.lit(None).cast("timestamp")
            source = F.lit(path.name)
            if "source" in df.columns:
                source = F.coalesce(F.col("source").cast("string"), source)
            frames.append(
                df.where(F.col("weight") > 0).select(
                    "user_id", "track_id", F.col("weight").cast("double").alias("weight"),
                    source.alias("source"), ts.alias("ts"), arrival,
                )
            )
        names.append(path.name)
    if not frames:
        raise InputError(f"no track interactions under {settings.parquet_dir} (run `python -m engine prepare`)")
    rows = reduce(lambda a, b: a.unionByName(b), frames)
    rows, n_forgotten = drop_forgotten(rows, settings)
    if n_forgotten:
        notes.append(f"{n_forgotten} listener(s) asked to be forgotten: their rows are left out")
    return rows, names, notes


def watermark_of(bundle: Bundle) -> int:
    """The arrival watermark (epoch µs) of the data ``bundle`` was trained on."""
    data = bundle.manifest.get("data", {})
    if isinstance(data.get("arrival_watermark_us"), int):
        return int(data["arrival_watermark_us"])
    return int(datetime.fromisoformat(bundle.manifest["created_at"]).timestamp() * 1_000_000)


def choose_params(settings: Settings, current: Bundle | None, options: RefreshOptions) -> tuple["AlsParams", int]:
    """ALS params and KMeans k: flags > params file > the serving bundle's > Settings."""

    chosen: dict[str, Any] = dict(current.params) if current is not None else {}
    saved = read_params_file(options.params_file)
    chosen.update({**saved, **(saved.get("als") or {})})  # evaluate --grid's layout (see train.resolve_params)
    chosen.update({k: v for k, v in options.als_overrides.items() if v is not None})
    k = options.kmeans_k or int(chosen.get("kmeans_k") or settings.kmeans_k)
    return AlsParams.from_settings(settings, **chosen), k


def choose_blend(current: Bundle | None, options: RefreshOptions) -> ServedChoice:
    """The served model (blend weights and the lists of its terms): the params file's > the
    serving bundle's > defaults."""

    saved = read_params_file(options.params_file)
    params = current.params if current is not None else {}
    try:
        return ServedChoice.from_params(saved if saved.get("blend") else params)
    except (TypeError, ValueError) as exc:
        raise InputError(f"blend parameters of {options.params_file or current.version}: {exc}") from None


def _load_current(models_dir: Path) -> Bundle | None:
    try:
        return load_current(models_dir)
    except BundleError:
        return None


def _tables(settings: Settings, current: Bundle | None) -> dict[str, Any]:
    if current is not None:
        return dict(current.tables)
    if (settings.parquet_dir / "demo_listeners.parquet").is_file():

        return demo_tables(settings)
    return {}


# -- one round -----------------------------------------------------------------------------------


def refresh_once(
    settings: Settings,
    *,
    spark_factory: Callable[[], "SparkSession"],
    options: RefreshOptions = RefreshOptions(),
    train_fn: Callable[..., tuple[Any, dict[str, Any]]] | None = None,
) -> RefreshRecord:
    """Run one refresh round (see the module docstring) and return its record (also logged).

    ``spark_factory`` is called only once the lock is held, so a refresher that finds the lock
    taken never starts a JVM. ``train_fn`` defaults to :func:`engine.training.run.train` (tests wrap it).
    Raises what the round raised after logging it as ``failed``.
    """
    models_dir = Path(settings.models_dir)
    record = RefreshRecord(started_at=now_iso())
    record.gate = {"tolerance": options.tolerance, "metrics": list(options.gate_metrics), "seed": options.seed,
                   "min_test_users": options.min_test_users, "min_new_items": options.min_items, "force": options.force}
    start = time.perf_counter()
    lock = FileLock(models_dir / LOCK_FILE, purpose="refresh", stale_after_s=options.stale_after_s)
    try:
        lock.acquire()
    except LockHeld as exc:
        record.decision = "skipped"
        record.reason = f"another refresh holds the lock: {exc.holder.describe() if exc.holder else exc}"
        record.lock = {"held_by": asdict(exc.holder) if exc.holder else None}
        record.serving_version = current_version(models_dir)
        return _finish(models_dir, record, start)
    try:
        if lock.took_over is not None:
            record.lock = {"took_over": asdict(lock.took_over)}
            logger.warning(f"[refresh] took over the stale lock of {lock.took_over.describe()}")
        _round(settings, record, spark_factory=spark_factory, options=options, train_fn=train_fn)
    except BaseException as exc:
        record.decision = "failed"
        record.reason = one_line(exc)
        raise
    finally:
        lock.release()
        record.serving_version = current_version(models_dir)
        _finish(models_dir, record, start)
    return record


def _finish(models_dir: Path, record: RefreshRecord, start: float) -> RefreshRecord:
    record.finished_at = now_iso()
    record.duration_s = round(time.perf_counter() - start, 3)
    append_log(models_dir, record)
    logger.info(f"[refresh] {record.summary()}")
    return record


def _round(
    settings: Settings,
    record: RefreshRecord,
    *,
    spark_factory: Callable[[], "SparkSession"],
    options: RefreshOptions,
    train_fn: Callable[..., tuple[Any, dict[str, Any]]] | None,
) -> None:


    train_fn = train_fn or train
    models_dir = Path(settings.models_dir)
    progress = Progress("refresh")
    current = _load_current(models_dir)
    record.current_version = current.version if current is not None else None
    tracks_path = settings.parquet_dir / "tracks"
    if not tracks_path.exists():
        raise InputError(f"{tracks_path}: no catalogue tracks (run `python -m engine prepare`)")
    spark = spark_factory()
    progress("spark", spark.sparkContext.master)

    if options.ingest:
        ingested = ingest_pending(spark, settings)
        record.ingest = ingested.to_dict() if ingested is not None else {"skipped": "a running stream holds its lock"}
        progress("ingest", ingested.summary() if ingested is not None else "left to the running stream")

    rows, datasets, notes = gather_interactions(spark, settings)
    rows = rows.cache()
    watermark = watermark_of(current) if current is not None else -1
    stats = rows.agg(
        F.count(F.lit(1)).alias("rows"),
        F.sum(F.when(F.col("arrival_us") > watermark, 1).otherwise(0)).alias("new_rows"),
        F.max("arrival_us").alias("max_arrival"),
    ).first()
    sources = {r["source"]: int(r["count"]) for r in rows.groupBy("source").count().collect()}
    new_watermark = int(stats["max_arrival"] or 0)
    record.data = {
        "datasets": datasets, "notes": notes, "n_rows": int(stats["rows"]), "n_new_rows": int(stats["new_rows"] or 0),
        "sources": sources, "watermark_before": _iso_us(watermark) if current is not None else None,
        "watermark_after": _iso_us(new_watermark),
    }
    progress("gather", f"{record.data['n_rows']:,} interaction rows, {record.data['n_new_rows']:,} new")
    params, k = choose_params(settings, current, options)
    served = choose_blend(current, options)
    record.params = {**params.to_dict(), "kmeans_k": k}
    holdout = None
    try:
        if current is not None and record.data["n_new_rows"] == 0 and not options.force:
            record.decision, record.reason = "skipped", f"no new interactions since {current.version}"
            return
        if current is not None:
            holdout = build_holdout(
                rows, watermark_us=watermark, seed=options.seed, min_items=options.min_items,
                min_test_users=options.min_test_users,
            )
            record.data.update(holdout.stats)
            n_pairs, n_users = holdout.stats["n_test_pairs"], holdout.stats["n_test_users"]
            progress("holdout", f"{n_pairs:,} held-out new pairs of {n_users:,} listeners")
            if holdout.data is None and not options.force:
                record.decision = "skipped"
                record.reason = (
                    f"too little new listening to judge a new model: {holdout.stats['n_test_users']} listener(s) with "
                    f">= {options.min_items} new tracks, need {options.min_test_users}; the data waits for the next round"
                )
                return
        train_rows = holdout.candidate_rows if holdout is not None and holdout.data is not None else rows
        _, parts = train_fn(
            spark, settings, interactions=train_rows.drop("arrival_us"), tracks=spark.read.parquet(str(tracks_path)),
            params=params, k=k, publish_to=None, tables=_tables(settings, current),
            blend=served.blend, neighbour_params=served.neighbours, components=served.components,
            selection=served.selection,
        )
        progress("train", f"candidate rank {params.rank}")
        accepted, reason = True, "no current model"
        if current is not None and holdout is not None and holdout.data is not None:
            record.metrics = _score_both(models_dir, parts, current, holdout)
            accepted, reason = compare(
                record.metrics["candidate"], record.metrics["current"],
                metrics=options.gate_metrics, tolerance=options.tolerance,
            )
            progress("gate", reason)
        elif current is not None:
            reason = "no holdout to judge on"
        if options.force and not accepted:
            accepted, reason = True, f"forced (--force) although {reason}"
        elif options.force and current is not None:
            reason = f"forced (--force); {reason}"
        if not accepted:
            record.decision, record.reason = "kept", f"kept {current.version}: {reason}"  # type: ignore[union-attr]
            prune_versions(models_dir, keep=settings.keep_versions)
            return
        parts["data_stats"] = {
            **parts.get("data_stats", {}), "arrival_watermark_us": new_watermark,
            "arrival_watermark": _iso_us(new_watermark),
            "refresh": {key: v for key, v in record.data.items() if key != "notes"},
        }
        if record.metrics:
            parts["metrics"] = {**parts.get("metrics", {}), "refresh_gate": {**record.metrics, **record.gate}}
        version = publish_bundle(models_dir, keep=settings.keep_versions, **parts)
        record.decision, record.published_version = "published", version
        record.reason = f"published {version}: {reason}"
        progress("publish", version)
    finally:
        if holdout is not None:
            holdout.release()
        rows.unpersist()
        record.timings_s = dict(progress.timings)


def _score_both(models_dir: Path, parts: dict[str, Any], current: Bundle, holdout: Any) -> dict[str, Any]:
    """Gate metrics of the candidate (written to a temporary bundle dir, loaded like any bundle)
    and of the serving bundle, on the same holdout."""

    tmp = models_dir / f"{TMP_PREFIX}candidate-{int(time.time())}-{secrets.token_hex(4)}"
    try:
        write_bundle(tmp, **parts)
        candidate = load_bundle(tmp)
        return {"candidate": score_bundle(candidate, holdout), "current": score_bundle(current, holdout)}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
