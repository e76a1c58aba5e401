"""Item-item similarity on Spark: MinHash LSH over each track's listeners, plus the content models.

``python -m engine similarity`` fills the ``similar_tracks`` table (SQLite store, and the
serving bundle's ``tables/similar_tracks.parquet``) that the Similar songs page reads::

    interactions parquet (user_id, track_id, ...)
      -> distinct (user, track); tracks with >= MIN_LISTENERS listeners
      -> per track: the set of its listeners as a binary sparse vector (CountVectorizer)
      -> MinHashLSH(numHashTables) -> approxSimilarityJoin(self, Jaccard distance < 1)
      -> top-N other tracks per track by Jaccard           -> method "minhash"
    engine.similarity.content_models (TF-IDF, Word2Vec + BucketedRandomProjectionLSH, LDA topics)
                                                           -> methods "tfidf", "word2vec"; topics
    -> Store.replace_similar / Store.replace_topics, and a republished bundle with the tables
       and ``extra/item_listeners`` (listeners per item, read by the cold-track hybrid)

A "listener set" is the set of users (playlists, for playlist sources) that have the track;
Jaccard of two sets = shared / union. Spark's MinHash uses one hash function per table and a
pair becomes a candidate when any table collides (OR-amplification), so a pair with Jaccard
``J`` is found with probability ``1 - (1 - J)^H`` for ``H`` tables; every candidate's distance
is then computed exactly, so the scores written are exact Jaccard values.

Choosing numHashTables (``--measure`` prints this table). Demo data from ``python -m engine
prepare``: 1,500 synthetic listeners x 6,143 tracks, 56k interactions; 300 sampled query
tracks; recall@10 counts an LSH neighbour as a hit when its Jaccard reaches the exact 10th-best
value, so ties do not count against it. Times are wall-clock seconds for every track's top-10
on local[*] with 2 cores shared with other jobs (load average ~17), so treat them as rough::

    tables   recall@10   LSH time   exact time   speed-up (exact / LSH)
       5       0.832       29.0 s     34.5 s       1.19x
      10       0.946       37.9 s     34.5 s       0.91x
      20       0.994       41.8 s     34.5 s       0.82x
      40       1.000      141.4 s     34.5 s       0.24x

``DEFAULT_NUM_HASH_TABLES = 20``: the smallest setting with recall@10 above 0.99; 40 tables
buy the last 0.6 points for three times the time. The "exact" column is the brute-force Spark
self-join on the listener (every pair of a listener's tracks): on this small demo data it is
about as fast as LSH, because its cost grows with the sum over listeners of (tracks per
listener)^2 and demo listeners have ~38 tracks, while LSH's cost grows with tracks x tables.
LSH pays off with heavy listeners or long playlists (MPD playlists of up to 250 tracks, a
600k-track catalogue); re-measure the speed-up there with ``--measure``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from engine.bundle.layout import current_version
from engine.core.config import Settings
from engine.core.errors import InputError
from engine.similarity.minhash import (
    DEFAULT_NUM_HASH_TABLES,
    DEFAULT_TOP_N,
    listener_pairs,
    measure_lsh,
)
from engine.similarity.run import ALL_METHODS, republish_with_tables, run_similarity
from engine.spark.session import get_spark
from engine.state.store import Store
from engine.training.inputs import default_interaction_paths, read_interactions

# -- CLI -------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``python -m engine similarity``."""
    parser.add_argument("--interactions", nargs="+", type=Path, help="interactions parquet dataset(s); default: data/parquet/interactions*")
    parser.add_argument("--tracks", type=Path, help="canonical tracks parquet; default: data/parquet/tracks")
    parser.add_argument("--methods", default=",".join(ALL_METHODS), help=f"comma-separated subset of {','.join(ALL_METHODS)}")
    parser.add_argument("--tables", type=int, default=DEFAULT_NUM_HASH_TABLES, help="MinHash numHashTables")
    parser.add_argument("--top", type=int, default=DEFAULT_TOP_N, help="neighbours kept per track and method")
    parser.add_argument("--measure", action="store_true", help="measure LSH recall@10 and speed-up vs exact Jaccard, write nothing")
    parser.add_argument("--no-publish", action="store_true", help="write the SQLite store only, not a new bundle version")


def main(args: argparse.Namespace, settings: Settings) -> int:
    """Run ``python -m engine similarity``."""

    paths = args.interactions or default_interaction_paths(settings)
    if not paths:
        raise InputError(f"no interactions parquet under {settings.parquet_dir} (run `python -m engine prepare`)")
    if args.top < 1:
        raise InputError(f"--top must be at least 1, got {args.top}")
    spark = get_spark(settings, app_name="similarity")
    interactions = read_interactions(spark, paths)
    if args.measure:
        measure_lsh(listener_pairs(interactions))  # logs one line per setting (stdout under the CLI)
        return 0
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    tracks = None
    tracks_path = args.tracks or settings.parquet_dir / "tracks"
    if any(m in ("tfidf", "lda") for m in methods):
        try:
            tracks = spark.read.parquet(str(tracks_path))
        except Exception as exc:
            raise InputError(f"cannot read tracks parquet {tracks_path}: {str(exc).splitlines()[0]}") from None
    store = Store(settings.store_path)
    report, tables = run_similarity(
        spark, interactions=interactions, tracks=tracks, store=store, methods=methods,
        num_hash_tables=args.tables, top=args.top,
    )
    if not args.no_publish:

        if current_version(settings.models_dir):
            report.version = republish_with_tables(
                settings.models_dir, tables, keep=settings.keep_versions, note=report.to_dict()
            )
            print(f"[similarity] published {report.version} with tables {', '.join(sorted(tables))}")
        else:
            print(f"[similarity] no bundle in {settings.models_dir}: wrote the SQLite store only")
    print(f"similar_tracks in {settings.store_path}: " + ", ".join(f"{m} {n:,}" for m, n in report.rows.items()))
    return 0
