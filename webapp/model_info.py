"""What the Home and Model pages say about the serving bundle, as plain text and frames (no streamlit).

:func:`served_model` says in words which model the bundle serves (ALS, item-kNN, RP3beta, EASE
or a blend of them, with each term's lists); :func:`selection_frame` is the validation table the
served model was chosen from (``params["served_selection"]``, written by ``evaluate --grid`` and
carried into the bundle by ``train``); :func:`refresh_frame` summarises the refresh log, one row
per round, newest first.

The facts come from the bundle's manifest, never from a fixed sentence: :func:`about_bundle`
(version, full training time, tracks, listeners), :func:`model_sentence` (the Home page's line),
:func:`params_frame` (the parameters as a readable table, nested blocks flattened) and
:func:`metrics_frame` (the manifest's metrics, else the stored evaluation of the served model,
else the refresh round that published it).

Anything from the server that a visitor reads goes through :func:`public_text` first: the
pages are public, so refusal notes and refresh reasons lose host names, pids and server paths
(the log keeps them for the operator).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePath
from typing import Any

import pandas as pd

from engine.bundle.load import Bundle
from engine.serving.blend import BlendWeights
from engine.serving.neighbours import NEIGHBOURS, NeighbourParams
from engine.state.refresh_log import read_log

#: The refresh log's columns the page shows, in order.
REFRESH_COLUMNS = ("started_at", "decision", "reason", "published_version", "serving_version", "duration_s")
#: Parameters shown in their own section of the Model page, not in the parameters table.
_OWN_SECTION = ("served_selection",)
#: Metrics of the evaluation table the Metrics column repeats for the served model.
_HEADLINE = ("ndcg@10", "recall@50", "map@10", "precision@10", "auc", "coverage@10")

# Host and process names, as the lock holder and the refresh log word them.
_PID_HOST = re.compile(r"\bpid \d+ on host \S+", re.IGNORECASE)
_PID = re.compile(r"\bpid[ =:]*\d+", re.IGNORECASE)
_HOST = re.compile(r"\bon host [\w.-]+|\bhost=[\w.-]+", re.IGNORECASE)
# An absolute POSIX path (not the "//" of a URL, not a URL's path) or a Windows one.
_POSIX_PATH = re.compile(r"(?<![\w.:/~])/(?:[^\s/'\"()<>,;|]+/)*([^\s/'\"()<>,;|:]*)")
_WINDOWS_PATH = re.compile(r"\b[A-Za-z]:\\(?:[^\s\\'\"]+\\)*([^\s\\'\":]*)")


@dataclass(frozen=True)
class BundleFacts:
    """What the serving bundle holds, in display form (from its manifest)."""

    version: str
    trained_at: str
    n_tracks: int
    n_listeners: int | None
    n_events: int | None
    synthetic_listeners: bool
    rank: int
    is_demo: bool


def about_bundle(bundle: Bundle, *, demo_dir: Path) -> BundleFacts:
    """The facts of ``bundle`` (``demo_dir``: the committed demo bundle, to say when it serves)."""
    data = bundle.manifest.get("data") or {}
    sources = data.get("sources")
    synthetic = isinstance(sources, Mapping) and bool(sources) and set(sources) <= {"demo", "synthetic"}
    return BundleFacts(
        version=bundle.version,
        trained_at=trained_at(bundle.manifest.get("created_at")),
        n_tracks=bundle.n_items,
        n_listeners=_count(data.get("n_users")),
        n_events=_count(data.get("n_interactions")),
        synthetic_listeners=synthetic,
        rank=bundle.rank,
        is_demo=_same_dir(bundle.path, demo_dir),
    )


def model_sentence(facts: BundleFacts) -> str:
    """The Home page's line on the model, e.g. ``"Recommendations from a model of 10,000 tracks,
    trained on 56,440 listening events of 1,500 synthetic listeners (version …), folded onto
    your own listening."`` (plain text: escape it for Markdown)."""
    what = "the built-in demo model" if facts.is_demo else "a model"
    trained = ""
    if facts.n_listeners:
        who = f"{facts.n_listeners:,} {'synthetic ' if facts.synthetic_listeners else ''}listeners"
        trained = f", trained on {facts.n_events:,} listening events of {who}" if facts.n_events else f", trained on {who}"
    return (f"Recommendations from {what} of {facts.n_tracks:,} tracks{trained} (version {facts.version}), "
            "folded onto your own listening.")


def trained_at(created_at: object) -> str:
    """``"2026-12-01 15:08:45 UTC"`` from the manifest's ISO ``created_at`` (seconds kept; a
    value that is not a timestamp is shown as it is)."""
    try:
        stamp = datetime.fromisoformat(str(created_at))
    except ValueError:
        return str(created_at)
    if stamp.tzinfo is not None:
        stamp = stamp.astimezone(UTC)
    return stamp.strftime("%Y-%m-%d %H:%M:%S") + " UTC"


def served_model(params: Mapping[str, Any]) -> tuple[str, list[str]]:
    """``(label, list lines)`` of the bundle's served model, e.g. ``("ALS + rp3beta 0.8", [...])``.

    A bundle without ``params["blend"]`` serves ALS alone; an unreadable block says so.
    """
    if "blend" not in params:
        return "ALS", []
    try:
        blend = BlendWeights.from_dict(params["blend"])
        lists = {NEIGHBOURS: params.get("neighbours") or {}, **(params.get("components") or {})}
        lines = [f"{c.name}: {NeighbourParams.from_dict(lists.get(c.name)).label}" for c in blend.terms]
    except (TypeError, ValueError, AttributeError) as exc:
        return "ALS", [f"the bundle's blend parameters could not be read ({exc})"]
    return blend.label, lines


def selection_frame(params: Mapping[str, Any]) -> tuple[str | None, pd.DataFrame | None]:
    """A sentence on how the served model was chosen and its validation table (None: not chosen
    by a parameter search, e.g. the defaults)."""
    selection = params.get("served_selection")
    if not isinstance(selection, Mapping) or not selection.get("validation"):
        return None, None
    rows = [r for r in selection["validation"] if isinstance(r, Mapping)]
    frame = pd.DataFrame(rows)
    metric = str(selection.get("metric", "ndcg@10"))
    text = (
        f"Chosen on the validation split of {selection.get('dataset', '?')} "
        f"({selection.get('split', '?')} split, {selection.get('chosen_at', '?')}) by {metric}, among the "
        "finalists below: every model alone and the best blends. Within 1% of the best, the widest coverage wins."
    )
    return text, frame


def params_frame(params: Mapping[str, Any]) -> pd.DataFrame:
    """The training parameters as ``parameter, value`` rows of text: nested blocks flattened to
    dotted names (``blend.neighbours``), numbers in short form, none as ``—``."""
    rows = [(name, _value_text(value)) for name, value in _flatten(
        {k: v for k, v in params.items() if k not in _OWN_SECTION})]
    return pd.DataFrame(rows, columns=["parameter", "value"])


def metrics_frame(manifest: Mapping[str, Any], records: Sequence[Mapping[str, Any]] = ()) -> pd.DataFrame:
    """``metric, value, measured`` rows for the bundle: the manifest's own metrics, else the
    served model's row of its stored evaluation, else the gate metrics of the refresh round
    that published it (``records``: the refresh log). Empty when none says anything."""
    metrics = manifest.get("metrics") or {}
    own = {k: v for k, v in metrics.items() if k != "evaluation" and _is_number(v)}
    if own:
        return _metric_rows(own, "when the bundle was published")
    evaluation = metrics.get("evaluation")
    if isinstance(evaluation, Mapping) and isinstance(models := evaluation.get("models"), Mapping):
        served = models.get("served")
        picked = {k: served[k] for k in _HEADLINE if _is_number(served.get(k))} if isinstance(served, Mapping) else {}
        if picked:
            return _metric_rows(picked, f"on {evaluation.get('dataset', '?')} ({evaluation.get('split', '?')} split)")
    for record in reversed(records):
        candidate = (record.get("metrics") or {}).get("candidate")
        if record.get("published_version") == manifest.get("version") and isinstance(candidate, Mapping):
            picked = {k: v for k, v in candidate.items() if _is_number(v)}
            if picked:
                return _metric_rows(picked, f"by the refresh gate ({record.get('started_at', '?')})")
    return pd.DataFrame(columns=["metric", "value", "measured"])


def refresh_records(models_dir: Path, *, limit: int = 50) -> list[dict[str, Any]]:
    """The last ``limit`` refresh rounds, oldest first (see :mod:`engine.state.refresh_log`)."""
    return read_log(models_dir, limit=limit)


def refresh_frame(records: Sequence[Mapping[str, Any]], *, dirs: Iterable[tuple[Path, str]] = ()) -> pd.DataFrame:
    """The refresh rounds ``records`` (oldest first, :func:`refresh_records`) newest first, one
    row each (empty when none). Reasons pass through :func:`public_text` (with ``dirs``); the
    host, pid and lock fields of a record are never shown."""
    dirs = list(dirs)
    rows = [{c: (public_text(r.get(c), dirs) if c == "reason" and r.get(c) else r.get(c)) for c in REFRESH_COLUMNS}
            for r in reversed(records)]
    return pd.DataFrame(rows, columns=list(REFRESH_COLUMNS))


def public_text(text: object, dirs: Iterable[tuple[Path, str]] = ()) -> str:
    """``text`` fit for a public page: each ``(folder, name)`` of ``dirs`` shown as its name
    (``/srv/app/models/v1/gram.npy`` -> ``models/v1/gram.npy``), any other absolute path cut
    to its last part, host names and pids left out."""
    out = str(text)
    for folder, name in sorted(dirs, key=lambda d: -len(str(d[0]))):  # the longest (innermost) first
        for form in {str(folder), str(_resolved(folder))}:
            if form not in ("", ".", "/"):
                out = out.replace(form.rstrip("/\\"), name)
    out = _PID_HOST.sub("another process", out)
    out = _PID.sub("a process", out)
    out = _HOST.sub("", out)
    out = _POSIX_PATH.sub(lambda m: f"…/{m.group(1)}" if m.group(1) else "…", out)
    out = _WINDOWS_PATH.sub(lambda m: f"…\\{m.group(1)}" if m.group(1) else "…", out)
    return re.sub(r"[ \t]{2,}", " ", out).strip()


def public_dirs(models_dir: Path, demo_dir: Path, data_dir: Path, root: Path) -> list[tuple[Path, str]]:
    """The server folders a page may name, each by a short name (``models``, ``data``, ...)."""
    return [(Path(demo_dir), "models/demo"), (Path(models_dir), "models"), (Path(data_dir), "data"),
            (Path(root), "app")]


# -- helpers ---------------------------------------------------------------------------------


def _flatten(values: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out += _flatten(value, f"{name}.")
        else:
            out.append((name, value))
    return out


def _value_text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_value_text(v) for v in value) or "—"
    if isinstance(value, Mapping):
        return "—"  # an empty block
    return str(value)


def _metric_rows(values: Mapping[str, Any], measured: str) -> pd.DataFrame:
    return pd.DataFrame([{"metric": k, "value": float(v), "measured": measured} for k, v in values.items()],
                        columns=["metric", "value", "measured"])


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value


def _count(value: object) -> int | None:
    return int(value) if isinstance(value, (int, float)) and _is_number(value) and value >= 0 else None


def _resolved(path: PurePath) -> Path:
    try:
        return Path(path).resolve()
    except (OSError, RuntimeError):
        return Path(path)


def _same_dir(a: Path, b: Path) -> bool:
    return _resolved(a) == _resolved(b)
