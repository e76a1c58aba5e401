"""The real-listener evaluation: held-out listening through the app's own path.

Every case (:mod:`engine.evaluation.listener_cases`) goes through what the app does with a
history: :func:`engine.serving.listening.listening_from_history` (matching by id, by artist +
title, by artist only) and ``Recommender.recommend(listening, Options(k=50))`` — the default
request. Next to the served list, on the same candidates (the listener's known tracks left
out, at most 2 tracks per artist, as the default request does):

- **More from artists you love** / **New to you** — the two lists of the same request
  (``Recommender.lists``), of which the served list is the blend at the default dial;
- **content path** — the cold-start path with the listener's 5 top history artists as seeds;
- **own artists, popular** — the most popular unheard tracks of the listener's own artists,
  top artists first (a baseline);
- **most popular** — the catalogue's most popular unheard tracks (a baseline);
- **upper bound** — the best any list of k could score on each metric alone (at most 2 tracks per
  artist, 1 for the recall): a target above it cannot be reached on that data.

Metrics, averaged over listeners (artists compared by normalized name):

- artist hit@k — share of the k recommended tracks by an artist the listener plays in the future;
- new-artist hit@k — the same for future artists absent from the history;
- new-artist recall@k — share of the future new artists *in the catalogue* that the list names
  (listeners with none are left out of this average);
- new share — share of the list's tracks by artists absent from the history;
- mean popularity (Spotify's 0–100) and popularity percentile (the list's median track's
  percentile in the catalogue).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.bundle.load import load_bundle, load_current
from engine.core.config import Settings
from engine.core.files import atomic_write_text
from engine.core.matching import CatalogIndex, MatchResult, normalize_artist
from engine.evaluation.listener_cases import Case, CaseSet, load_case_set
from engine.serving.listening import Listening, listening_from_history
from engine.serving.options import Options
from engine.serving.recommender import Recommender
from engine.serving.results import TasteLists

K = 50
#: Tracks per artist in every list (the default request's cap).
CAP = 2
#: History artists used as seeds by the content-path row.
SEED_ARTISTS = 5

SERVED = "served (recommend, default options)"
FAMILIAR = "More from artists you love"
NEW = "New to you"
CONTENT = "content path (top history artists as seeds)"
OWN_POPULAR = "own artists, popular (baseline)"
MOST_POPULAR = "most popular (baseline)"
UPPER_BOUND = "upper bound (each metric alone)"
METRICS = ("artist_hit", "new_artist_hit", "new_artist_recall", "new_share", "mean_popularity", "popularity_pct")


class CatalogArtists:
    """The catalogue by normalized artist name: each track's artists, each artist's tracks by popularity."""

    def __init__(self, rec: Recommender) -> None:
        items = rec.bundle.items
        self.popularity = items["popularity"].fillna(0).to_numpy(dtype=np.float64)
        order = np.argsort(-self.popularity, kind="stable")
        self.by_popularity = order
        self.percentile = rec.popularity_percentile  # the same percentile the page's lists report
        self.names: list[tuple[str, ...]] = []
        self.display: dict[str, str] = {}
        tracks: dict[str, list[int]] = defaultdict(list)
        for names in items["artists"].tolist():
            own = []
            for name in names if names is not None and not isinstance(names, str) else [names]:
                norm = normalize_artist(name)
                if norm:
                    own.append(norm)
                    self.display.setdefault(norm, str(name))
            self.names.append(tuple(dict.fromkeys(own)))
        for row in order.tolist():
            for norm in self.names[row]:
                tracks[norm].append(row)
        self.tracks = {a: np.asarray(r, dtype=np.int64) for a, r in tracks.items()}

    def artists_of(self, rows: Iterable[int]) -> set[str]:
        """Normalized artist names of the tracks ``rows``."""
        return {a for r in rows for a in self.names[int(r)]}

    def take(self, candidates: Iterable[int], known: set[int], *, k: int, cap: int = CAP) -> np.ndarray:
        """The first ``k`` of ``candidates`` not in ``known``, at most ``cap`` per artist."""
        counts: dict[str, int] = defaultdict(int)
        out: list[int] = []
        for row in candidates:
            row = int(row)
            if row in known or any(counts[a] >= cap for a in self.names[row]):
                continue
            for a in self.names[row]:
                counts[a] += 1
            out.append(row)
            if len(out) == k:
                break
        return np.asarray(out, dtype=np.int64)


@dataclass(frozen=True)
class Prepared:
    """One case after the app's matching: its listening, known rows and artists."""

    case: Case
    listening: Listening
    match: MatchResult
    known: set[int]
    history_artists: set[str]
    top_artists: tuple[str, ...]
    lists: TasteLists

    @property
    def future_new(self) -> frozenset[str]:
        """Future artists absent from the history."""
        return self.case.future - self.history_artists


#: A list to evaluate: (recommender, catalogue, prepared case, k) -> item rows, best first.
ListMaker = Callable[[Recommender, CatalogArtists, Prepared, int], np.ndarray]


def served(rec: Recommender, cat: CatalogArtists, p: Prepared, k: int) -> np.ndarray:
    """``Recommender.recommend`` with the default options (only ``k`` set)."""
    return rec.recommend(p.listening, Options(k=k)).indices


def familiar(rec: Recommender, cat: CatalogArtists, p: Prepared, k: int) -> np.ndarray:
    """The "More from artists you love" list of the default request."""
    return p.lists.familiar.indices


def new_to_you(rec: Recommender, cat: CatalogArtists, p: Prepared, k: int) -> np.ndarray:
    """The "New to you" list of the default request."""
    return p.lists.new.indices


def at_dial(discovery: float) -> ListMaker:
    """The blended list at another dial setting."""
    def make(rec: Recommender, cat: CatalogArtists, p: Prepared, k: int) -> np.ndarray:
        return rec.recommend(p.listening, Options(k=k, discovery=discovery)).indices

    make.__doc__ = f"The blended list at discovery {discovery:g}."
    return make


def content_path(rec: Recommender, cat: CatalogArtists, p: Prepared, k: int) -> np.ndarray:
    """The cold-start content path seeded with the listener's top history artists."""
    seeds = [cat.display[a] for a in p.top_artists if a in cat.display][:SEED_ARTISTS]
    known_ids = rec.bundle.items["track_id"].to_numpy()[sorted(p.known)].tolist()
    opts = Options(k=k, seed_artists=seeds, exclude_ids=known_ids)
    return rec.recommend(None, opts).indices if seeds else most_popular(rec, cat, p, k)


def own_popular(rec: Recommender, cat: CatalogArtists, p: Prepared, k: int) -> np.ndarray:
    """The most popular unheard tracks of the listener's own artists, top artists first."""
    rows = (r for a in p.top_artists for r in cat.tracks.get(a, ()))
    return cat.take(rows, p.known, k=k)


def most_popular(rec: Recommender, cat: CatalogArtists, p: Prepared, k: int) -> np.ndarray:
    """The catalogue's most popular unheard tracks."""
    return cat.take(cat.by_popularity, p.known, k=k)


DEFAULT_LISTS: dict[str, ListMaker] = {
    SERVED: served,
    FAMILIAR: familiar,
    NEW: new_to_you,
    CONTENT: content_path,
    OWN_POPULAR: own_popular,
    MOST_POPULAR: most_popular,
}


def prepare(case: Case, rec: Recommender, index: CatalogIndex, cat: CatalogArtists, *, k: int = K) -> Prepared:
    """Match the case's history as the app does and collect what the metrics need (and the
    two lists of the default request)."""
    listening, match = listening_from_history(case.items, index)
    rows = rec.index_of(list(listening.tracks))
    known = {int(r) for r in rows if r >= 0}
    weight: dict[str, float] = defaultdict(float)
    for item in case.items:
        norm = normalize_artist(item.artist)
        if norm and item.weight > 0:
            weight[norm] += float(item.weight)
    for row in known:
        for a in cat.names[row]:
            weight.setdefault(a, 0.0)
    top = tuple(sorted(weight, key=lambda a: (-weight[a], a)))
    lists = rec.lists(listening, Options(k=k))
    return Prepared(case, listening, match, known, set(weight), top, lists)


def list_metrics(rows: np.ndarray, p: Prepared, cat: CatalogArtists, *, k: int) -> dict[str, float]:
    """The metrics of one list for one listener (recall NaN when no future new artist is in the catalogue)."""
    future, new = p.case.future, p.future_new
    reachable = {a for a in new if a in cat.tracks}
    names = [cat.names[int(r)] for r in rows]
    named = {a for ns in names for a in ns}
    return {
        "artist_hit": sum(any(a in future for a in ns) for ns in names) / k,
        "new_artist_hit": sum(any(a in new for a in ns) for ns in names) / k,
        "new_artist_recall": len(reachable & named) / len(reachable) if reachable else float("nan"),
        "new_share": (sum(not any(a in p.history_artists for a in ns) for ns in names) / len(names)) if names else float("nan"),
        "mean_popularity": float(cat.popularity[rows].mean()) if len(rows) else float("nan"),
        "popularity_pct": float(np.median(cat.percentile[rows])) if len(rows) else float("nan"),
    }


def upper_bound(p: Prepared, cat: CatalogArtists, *, k: int) -> dict[str, float]:
    """The best score any list of ``k`` could reach on each metric alone."""
    def fill(artists: Iterable[str], cap: int) -> int:
        return sum(min(cap, sum(1 for r in cat.tracks.get(a, ()) if int(r) not in p.known)) for a in artists)

    reachable = [a for a in p.future_new if a in cat.tracks]
    return {
        "artist_hit": min(k, fill(p.case.future, CAP)) / k,
        "new_artist_hit": min(k, fill(p.future_new, CAP)) / k,
        "new_artist_recall": min(1.0, k / len(reachable)) if reachable else float("nan"),
        "new_share": float("nan"), "mean_popularity": float("nan"), "popularity_pct": float("nan"),
    }


@dataclass
class ListenerReport:
    """The evaluation of one case set: one row per list, plus how the histories matched."""

    name: str
    description: str
    bundle: str
    k: int
    stats: dict[str, Any]
    matching: dict[str, int]
    rows: list[dict[str, Any]] = field(default_factory=list)

    def row(self, list_name: str) -> dict[str, Any]:
        """The row of ``list_name`` (KeyError when absent)."""
        for r in self.rows:
            if r["list"] == list_name:
                return r
        raise KeyError(list_name)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (NaN becomes None)."""
        return _clean(asdict(self))

    def to_markdown(self) -> str:
        """A heading, the description, the data and matching counts, and the table."""
        k = self.k
        head = (f"| list | artist hit@{k} | new-artist hit@{k} | new-artist recall@{k} | new share | "
                "mean popularity | popularity pct |")
        lines = [f"### {self.name} (bundle {self.bundle})", "", self.description, "",
                 "data: " + ", ".join(f"{key} {_fmt(v)}" for key, v in self.stats.items()),
                 "matched history items: " + ", ".join(f"{key} {_fmt(v)}" for key, v in self.matching.items()),
                 "", head, "|---|---|---|---|---|---|---|"]
        for r in self.rows:
            cells = [_num(r[m], 3) for m in METRICS[:4]] + [_num(r[m], 1) for m in METRICS[4:]]
            lines.append(f"| {r['list']} | " + " | ".join(cells) + " |")
        return "\n".join(lines) + "\n"


def evaluate_listeners(
    rec: Recommender,
    index: CatalogIndex,
    case_set: CaseSet,
    *,
    k: int = K,
    lists: dict[str, ListMaker] | None = None,
    dials: Sequence[float] = (),
) -> ListenerReport:
    """Every list of ``lists`` (default :data:`DEFAULT_LISTS`, plus the blend at each of
    ``dials``) on every case, averaged."""
    cat = CatalogArtists(rec)
    lists = dict(DEFAULT_LISTS if lists is None else lists)
    for d in dials:
        lists[f"blend, discovery {d:g}"] = at_dial(d)
    per_list: dict[str, list[dict[str, float]]] = {name: [] for name in lists}
    bounds: list[dict[str, float]] = []
    matching: dict[str, int] = defaultdict(int)
    for case in case_set.cases:
        p = prepare(case, rec, index, cat, k=k)
        for path, n in p.match.counts.items():
            matching[path] += n
        for name, make in lists.items():
            per_list[name].append(list_metrics(make(rec, cat, p, k), p, cat, k=k))
        bounds.append(upper_bound(p, cat, k=k))
    report = ListenerReport(case_set.name, case_set.description, rec.version, k, dict(case_set.stats),
                            {"by_id": matching["track_id"], "by_artist_title": matching["name"],
                             "by_artist_only": matching["artist"], "unmatched": matching["unmatched"]})
    for name, values in [*per_list.items(), (UPPER_BOUND, bounds)]:
        report.rows.append({"list": name, "listeners": len(values), **_mean(values)})
    return report


def run_listener_evaluation(
    settings: Settings,
    names: Sequence[str],
    *,
    bundle_dir: Path | None = None,
    data_dir: Path | None = None,
    seed: int = 42,
    k: int = K,
    extra: Sequence[CaseSet] = (),
    dials: Sequence[float] = (),
) -> list[ListenerReport]:
    """Load the bundle (``bundle_dir``, else the serving one), build the named case sets and
    ``extra`` ones, and evaluate each."""
    bundle = load_bundle(bundle_dir) if bundle_dir is not None else load_current(
        settings.models_dir, fallback_dir=settings.demo_bundle_dir)
    rec = Recommender(bundle)
    index = CatalogIndex.from_items(bundle.items)
    sets = [load_case_set(n, settings, bundle.items, tables=bundle.tables, data_dir=data_dir, seed=seed) for n in names]
    return [evaluate_listeners(rec, index, s, k=k, dials=dials) for s in [*sets, *extra]]


def write_listener_reports(reports: Sequence[ListenerReport], out_dir: Path) -> tuple[Path, Path]:
    """``listeners.json`` and ``listeners.md`` in ``out_dir`` (replacing earlier ones, atomically)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / "listeners.json", out_dir / "listeners.md"
    atomic_write_text(json_path, json.dumps([r.to_dict() for r in reports], indent=2, allow_nan=False))
    atomic_write_text(md_path, "\n".join(r.to_markdown() for r in reports))
    return json_path, md_path


def _mean(values: list[dict[str, float]]) -> dict[str, float]:
    out = {}
    for m in METRICS:
        col = np.array([v[m] for v in values], dtype=np.float64)
        out[m] = float(np.nanmean(col)) if np.isfinite(col).any() else float("nan")
    return out


def _num(value: float, digits: int) -> str:
    return "–" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


def _fmt(value: object) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return value if np.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value
