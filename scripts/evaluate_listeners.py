"""The real-listener evaluation with Spotify data exports (and the engine's own sources).

    python scripts/evaluate_listeners.py [--exports PATH ...] [--listeners hetrec,hetrec-plays,demo]
                                         [--bundle models/demo] [--top 50] [--out DIR]

Each ``--exports`` PATH is one listener's export (a ``.zip``, a folder or a ``.json``; default:
the fixture export in ``tests/data/spotify``). Its plays are read by the app's own parser
(``spotify.export_import.read_plays``) and split by time: the first 80% of the listener's time
span is weighed into a history exactly as an upload would be (``history_from_plays``); the
artists of the full plays (≥ 30 s, not skipped) after it are the future. Then the engine's
real-listener evaluation (:mod:`engine.evaluation.listeners`) runs the app's matching, fold-in
and ``Recommender.recommend`` on it.

This entry lives in ``scripts/`` because the export parser belongs to ``spotify/``, which the
engine's packages may not import (docs/ARCHITECTURE.md); ``python -m engine evaluate
--listeners ...`` runs the other sources without it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.core.config import Settings  # noqa: E402
from engine.evaluation.listener_cases import HOLDOUT, CaseSet, Item, export_case  # noqa: E402
from engine.evaluation.listeners import K, run_listener_evaluation, write_listener_reports  # noqa: E402
from spotify.export_import import history_from_plays, read_plays  # noqa: E402

FIXTURE = ROOT / "tests" / "data" / "spotify"


def split_export(path: Path, *, holdout: float = HOLDOUT) -> tuple[list[Item], list[str], dict[str, int]]:
    """History items (as an upload of the first part would give) and the future's artist names."""
    log = read_plays(path)
    n_plays = len(log.plays)
    if not n_plays:
        return [], [], {"plays": 0}
    start, end = log.span_us()
    cut = start + int((1 - holdout) * (end - start))
    history, counts = history_from_plays(log, until_us=cut)
    future = log.full_play_artists(cut)
    items = [Item(i.track_id, i.title, i.artist, i.weight) for i in history.items]
    return items, future, {"plays": n_plays, "history_plays": counts["plays"] + counts["duplicates"],
                           "future_full_plays": len(future)}


def export_cases(paths: list[Path]) -> CaseSet:
    """One case per export path (exports with an empty history or future are left out)."""
    cases, stats = [], {"exports": len(paths), "plays": 0, "history_plays": 0, "future_full_plays": 0}
    for n, path in enumerate(paths, 1):
        items, future, counts = split_export(path)
        for key, value in counts.items():
            stats[key] = stats.get(key, 0) + value
        if items and future:
            cases.append(export_case(f"export:{n}", items, future))
    stats["cases"] = len(cases)
    what = (f"Spotify data exports ({', '.join(p.name for p in paths)}): time split, first {1 - HOLDOUT:.0%} "
            "of each listener's time span as history")
    return CaseSet("exports", what, tuple(cases), stats)


def main(argv: list[str] | None = None) -> int:
    """Evaluate the exports (and ``--listeners``) and write ``listeners.json`` / ``.md``."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--exports", type=Path, nargs="*", default=[FIXTURE], help="one path per listener")
    parser.add_argument("--listeners", default="", help="also: comma-separated hetrec, hetrec-plays, demo")
    parser.add_argument("--bundle", type=Path, default=None, help="bundle to serve (default: the serving one)")
    parser.add_argument("--data-dir", type=Path, default=None, help="folder of the HetRec files")
    parser.add_argument("--top", type=int, default=K, help=f"list length (default {K})")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, default=None, help="report directory (default data/reports)")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    names = [n.strip() for n in args.listeners.split(",") if n.strip()]
    extra = [export_cases(list(args.exports))] if args.exports else []
    reports = run_listener_evaluation(settings, names, bundle_dir=args.bundle, data_dir=args.data_dir,
                                      seed=args.seed, k=args.top, extra=extra)
    for report in reports:
        print(report.to_markdown())
    json_path, md_path = write_listener_reports(reports, args.out or settings.data_dir / "reports")
    print(f"report written to {json_path} and {md_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
