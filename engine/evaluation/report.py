"""The evaluation report: a dataclass, its JSON and markdown, and storing it in a bundle.

``EvalReport`` is what ``engine.evaluation.protocol.evaluate`` returns. ``write_report`` writes
``eval-<dataset>.json`` and ``eval-<dataset>.md`` (replacing earlier ones, atomically), and
``store_metrics`` merges a summary into a bundle manifest's ``metrics`` — the manifest is not
among its own hashed ``files``, so the bundle still verifies afterwards.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from engine.bundle.layout import MANIFEST, current_version
from engine.bundle.load import verify_bundle_dir
from engine.core.config import Settings
from engine.core.errors import BundleError
from engine.core.files import atomic_write_text
from engine.evaluation.scoring import metric_keys
from engine.serving.blend import BlendWeights
from engine.serving.neighbours import NeighbourParams


@dataclass
class EvalReport:
    """One evaluation: protocol, data stats, one metrics row per model, optional tuning."""

    dataset: str
    description: str
    protocol: dict[str, Any]
    data: dict[str, Any]
    params: dict[str, Any]
    rows: list[dict[str, Any]]
    grid: dict[str, Any] | None = None
    kmeans: dict[str, Any] | None = None
    book: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    timings_s: dict[str, float] = field(default_factory=dict)
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (NaN becomes null)."""
        return _clean(asdict(self))

    def row(self, model: str) -> dict[str, Any]:
        """The metrics row of ``model`` (KeyError when absent)."""
        for r in self.rows:
            if r["model"] == model:
                return r
        raise KeyError(model)

    def summary(self) -> dict[str, Any]:
        """What goes into a bundle manifest's ``metrics``: the table, protocol and params."""
        keys = metric_keys(self.protocol["k"], self.protocol["k_recall"])
        return _clean(
            {
                "evaluated_at": self.created_at,
                "dataset": self.dataset,
                "split": self.protocol["split"],
                "seed": self.protocol["seed"],
                "n_test_users": self.data.get("n_test_users"),
                "als_params": self.params,
                "models": {r["model"]: {k: r.get(k) for k in keys} for r in self.rows},
                "notes": self.notes,
            }
        )

    def served_selection(self) -> dict[str, Any] | None:
        """How the served model was chosen, for the manifest and the Model page: its label, the
        dataset, and the validation table of the finalists (None without a parameter search)."""
        if not self.grid or not self.grid.get("blend_rows"):
            return None
        metric = self.grid.get("metric", "ndcg@10")
        final = [r for r in self.grid["blend_rows"] if r.get("stage") == "validation"]
        keep = ("model", metric, "recall@50", "coverage@10", "n_eval_users")
        blend = self.params.get("blend")
        return _clean({
            "model": BlendWeights.from_dict(blend).label if isinstance(blend, dict) else None,
            "dataset": self.dataset,
            "split": self.protocol.get("split"),
            "metric": metric,
            "chosen_at": self.created_at,
            "validation": [{k: r.get(k) for k in keep} for r in sorted(final, key=lambda r: -(r.get(metric) or 0))],
        })

    def to_markdown(self) -> str:
        """The report as a markdown document with one table per section."""
        keys = metric_keys(self.protocol["k"], self.protocol["k_recall"])
        lines = [
            f"# Evaluation: {self.dataset}",
            "",
            f"{self.description}. Split: {self.protocol['split']} (seed {self.protocol['seed']}), "
            f"{self.data.get('n_test_users', 0):,} test listeners, {self.data.get('n_train', 0):,} training / "
            f"{self.data.get('n_test', 0):,} held-out interactions, {self.data.get('n_candidate_items', 0):,} "
            f"candidate items. ALS: {params_text(self.params)}. {self.created_at}.",
            "",
            markdown_table(self.rows, keys),
        ]
        if any(r["model"] == "served" for r in self.rows) and isinstance(self.params.get("blend"), dict):
            blend = BlendWeights.from_dict(self.params["blend"])
            lists = {"neighbours": self.params.get("neighbours") or {}, **(self.params.get("components") or {})}
            used = [f"{c.name}: {NeighbourParams.from_dict(lists.get(c.name)).label}" for c in blend.terms]
            lines += [
                "",
                f"served = what the app serves (engine.serving.blend): {blend.label}"
                + (f" — {'; '.join(used)}." if used else "."),
            ]
        if self.notes:
            lines += [""] + [f"- {note}" for note in self.notes]
        if self.grid:
            lines += ["", "## Parameter search (validation split)", "", self.grid.get("markdown", "")]
        if self.kmeans:
            lines += ["", "## KMeans k", "", self.kmeans.get("markdown", "")]
        if self.book:
            lines += ["", "## Reproduction of Advanced Analytics with Spark ch. 3", "", self.book.get("markdown", "")]
        return "\n".join(lines) + "\n"


HEADERS = {
    "auc": "AUC (ties wrong)",
    "auc_ties_half": "AUC (ties ½)",
}


def markdown_table(rows: list[dict[str, Any]], keys: tuple[str, ...], *, extra: tuple[str, ...] = ("fit_seconds",)) -> str:
    """One markdown table: a row per model, a column per metric."""
    cols = list(keys) + list(extra)
    head = "| model | " + " | ".join(HEADERS.get(c, c.replace("_", " ")) for c in cols) + " |"
    sep = "|---|" + "---:|" * len(cols)
    body = [f"| {r['model']} | " + " | ".join(_fmt(r.get(c)) for c in cols) + " |" for r in rows]
    return "\n".join([head, sep, *body])


def write_report(report: EvalReport, out_dir: Path) -> tuple[Path, Path]:
    """Write ``eval-<dataset>.json`` and ``.md`` into ``out_dir`` (replacing earlier ones)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = "eval-" + "".join(c if c.isalnum() or c in "-_" else "_" for c in report.dataset)
    json_path, md_path = out_dir / f"{stem}.json", out_dir / f"{stem}.md"
    atomic_write_text(json_path, json.dumps(report.to_dict(), indent=2, sort_keys=True, allow_nan=False))
    atomic_write_text(md_path, report.to_markdown())
    return json_path, md_path


def store_metrics(bundle_dir: Path, metrics: dict[str, Any]) -> dict[str, Any]:
    """Merge ``metrics`` into a bundle's ``manifest.json`` ``metrics`` (atomic rewrite).

    Nothing else changes: the manifest is not among its own ``files``, so the bundle still
    verifies. Returns the new manifest.
    """
    bundle_dir = Path(bundle_dir)
    manifest = verify_bundle_dir(bundle_dir)
    manifest["metrics"] = {**manifest.get("metrics", {}), **_clean(metrics)}
    atomic_write_text(bundle_dir / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True))
    verify_bundle_dir(bundle_dir)
    return manifest


def store_in_current_bundle(settings: Settings, report: EvalReport) -> str:
    """Store ``report.summary()`` under ``metrics["evaluation"]`` of the serving bundle; return its version."""
    version = current_version(settings.models_dir)
    if version is None:
        raise BundleError(f"no current bundle in {settings.models_dir} to store the evaluation in")
    store_metrics(settings.models_dir / version, {"evaluation": report.summary()})
    return version


def _clean(obj: Any) -> Any:
    """JSON-ready copy: NaN/inf -> None, numpy scalars -> Python, Paths -> str."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def _fmt(v: Any) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "–"
    if isinstance(v, float):
        return f"{v:.1f}" if abs(v) >= 10 else f"{v:.3f}"
    return str(v)


def params_text(p: dict[str, Any]) -> str:
    """One line describing ALS parameters (for reports and logs)."""
    return (
        f"rank {p.get('rank')}, regParam {p.get('reg_param')}, alpha {p.get('alpha')}, "
        f"{p.get('weight_transform')} weights, {p.get('max_iter')} iterations"
    )
