"""The one SparkSession factory.

``local[*]`` by default; ``SPARK_MASTER=spark://host:7077``, ``yarn`` or ``k8s://...`` runs the
same jobs on a cluster. Executors use the same Python as the driver (``PYSPARK_PYTHON``), so a
venv's packages are visible to UDFs. Only the engine imports this module; the app never does.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from urllib.parse import urlparse

from pyspark.sql import SparkSession

from engine.core.config import Settings


def get_spark(
    settings: Settings,
    *,
    app_name: str = "music-recommender",
    extra_conf: Mapping[str, str] | None = None,
) -> "SparkSession":
    """Return a (possibly existing) SparkSession configured from ``settings``.

    Sets the master, driver memory, shuffle partitions, UTC session time zone, Kryo, Java
    LAPACK (see below) and a quiet log level. ``extra_conf`` entries are applied last (its
    ``extraJavaOptions`` are appended to ours).
    """
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    # Spark ML's native BLAS (Debian libopenblas0-pthread) must not start its own thread pool
    # inside every task: Spark already runs one task per core.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

    builder = (
        SparkSession.builder.appName(app_name)
        .master(settings.spark_master)
        .config("spark.driver.memory", settings.spark_driver_memory)
        .config("spark.sql.shuffle.partitions", str(settings.spark_shuffle_partitions))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.serializer", "org.apache.spark.serializer.KryoSerializer")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.adaptive.enabled", "true")
        # pandas <-> Spark conversions through Arrow (fast toPandas for bundle export)
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
    )
    # One machine (local mode, or `make cluster-up`'s standalone cluster on 127.0.0.1): the
    # driver listens on loopback only. Elsewhere SPARK_LOCAL_IP / SPARK_LOCAL_HOSTNAME name the
    # address executors reach the driver at.
    one_machine = settings.spark_master.startswith("local") or _loopback_master(settings.spark_master)
    if one_machine:
        builder = builder.config("spark.driver.host", "127.0.0.1").config(
            "spark.driver.bindAddress", "127.0.0.1"
        )
    builder = builder.config("spark.executorEnv.OPENBLAS_NUM_THREADS", "1")
    # ALS solves a packed Cholesky (LAPACK dppsv) per user and item per iteration. Debian's
    # OpenBLAS serializes concurrent dppsv calls from parallel tasks on an internal lock (two
    # tasks on 2 cores ran slower than one); netlib's Java LAPACK scales with cores: a 10-iteration
    # rank-64 fit took 80 s native vs 49 s Java (bench/train.py). Native BLAS (dspr) stays on.
    extra = dict(extra_conf or {})
    for key in ("spark.driver.extraJavaOptions", "spark.executor.extraJavaOptions"):
        extra[key] = f"-Ddev.ludovic.netlib.lapack.allowNative=false {extra.get(key, '')}".strip()
    for key, value in extra.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    # ALS checkpoints its factor RDDs every 10 iterations only when a checkpoint dir is set;
    # without one, long lineages overflow the JVM stack (seen at maxIter=15). In local mode a
    # folder under data/ is always usable (also for a standalone cluster on 127.0.0.1, whose
    # executors share this disk); on a real cluster it must be a shared path (hdfs://, s3a://).
    checkpoint_dir = settings.spark_checkpoint_dir
    if not checkpoint_dir and one_machine:
        checkpoint_dir = str(settings.data_dir / "checkpoints")
    if checkpoint_dir:
        spark.sparkContext.setCheckpointDir(checkpoint_dir)
    return spark


@contextmanager
def sql_conf(spark: SparkSession, conf: Mapping[str, str]) -> Iterator[None]:
    """Set session SQL options for the queries run inside the block, then put the previous
    values back (an option that was not set is unset again). Spark has no scoped setting: the
    options hold for the whole session meanwhile, so the block should be one query's action."""
    before = {key: spark.conf.get(key, None) for key in conf}
    for key, value in conf.items():
        spark.conf.set(key, value)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, value)


def _loopback_master(master: str) -> bool:
    """True for ``spark://127.0.0.1:7077`` / ``spark://localhost:...`` (a cluster on this machine)."""

    return master.startswith("spark://") and urlparse(master).hostname in ("127.0.0.1", "localhost")
