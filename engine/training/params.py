"""Which parameters a training run uses, and ``models/best_params.json`` that ``evaluate --grid`` writes.

:func:`resolve_params` gives the ALS parameters: command-line flags > the params file >
:class:`~engine.core.config.Settings`. :func:`resolve_blend` gives the blend weights and
neighbour parameters: the params file's ``blend`` / ``neighbours`` blocks, else the defaults of
:class:`engine.serving.blend.BlendWeights` and :class:`engine.serving.neighbours.NeighbourParams`.
:func:`write_best_params` merges chosen values into ``best_params.json`` (flat
:class:`~engine.training.als.AlsParams` keys, ``kmeans_k``, ``blend``, ``neighbours`` and a
``meta`` block; written atomically) and :func:`load_best_params` reads it back. An unreadable
file is an :class:`~engine.core.errors.InputError` naming it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.core.config import Settings
from engine.core.errors import InputError
from engine.core.files import atomic_write_text
from engine.serving.blend import BlendWeights
from engine.serving.neighbours import NeighbourParams
from engine.training.als import AlsParams

#: The ALS hyperparameters of best_params.json's "als" object.
ALS_KEYS = ("rank", "max_iter", "reg_param", "alpha", "weight_transform", "weight_epsilon", "weight_clip")


def resolve_params(settings: Settings, *, params_file: Path | None = None, **flags: Any) -> AlsParams:
    """ALS params: flags > ``params_file`` (e.g. ``models/best_params.json`` from
    ``evaluate --grid``) > Settings."""
    saved = read_params_file(params_file)
    # evaluate --grid writes AlsParams fields at the top level; an older layout nested them.
    chosen = {**saved, **(saved.get("als") or {})}
    return AlsParams.from_settings(settings, **{**chosen, **{k: v for k, v in flags.items() if v is not None}})


def read_params_file(params_file: Path | None) -> dict[str, Any]:
    """The JSON object in ``params_file`` ({} when there is none); a clear error when unreadable."""

    if params_file is None or not Path(params_file).is_file():
        return {}
    try:
        data = json.loads(Path(params_file).read_text(encoding="utf-8"))
    except ValueError as exc:
        raise InputError(f"{params_file}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise InputError(f"{params_file}: expected a JSON object, got {type(data).__name__}")
    return data


@dataclass(frozen=True)
class ServedChoice:
    """The served model: blend weights, the lists of each item–item term and how it was chosen.

    Read from a ``best_params.json`` or a bundle's ``params`` (the same keys): ``blend``
    (:class:`~engine.serving.blend.BlendWeights`), ``neighbours`` (the first lists'
    :class:`~engine.serving.neighbours.NeighbourParams`), ``components`` (name -> NeighbourParams
    of further terms) and ``served_selection`` (the validation table the choice came from).
    """

    blend: BlendWeights = BlendWeights()
    neighbours: NeighbourParams = NeighbourParams()
    components: Mapping[str, NeighbourParams] = field(default_factory=dict)
    selection: Mapping[str, Any] | None = None

    @classmethod
    def from_params(cls, block: Mapping[str, Any]) -> "ServedChoice":
        """Parse the keys above; raises ``ValueError`` naming a bad field or a term without lists."""
        blend = BlendWeights.from_dict(block.get("blend"))
        components = {str(n): NeighbourParams.from_dict(p) for n, p in (block.get("components") or {}).items()}
        missing = [c.name for c in blend.components if c.weight and c.name not in components]
        if missing:
            raise ValueError(f"blend.components {missing} have no entry in components")
        selection = block.get("served_selection")
        return cls(blend, NeighbourParams.from_dict(block.get("neighbours")), components,
                   dict(selection) if isinstance(selection, Mapping) else None)

    def to_params(self) -> dict[str, Any]:
        """The keys of a bundle's ``params`` / best_params.json."""
        out: dict[str, Any] = {
            "blend": self.blend.to_dict(), "neighbours": self.neighbours.to_dict(),
            "components": {n: p.to_dict() for n, p in self.components.items()},
        }
        if self.selection is not None:
            out["served_selection"] = dict(self.selection)
        return out


def resolve_served(params_file: Path | None) -> ServedChoice:
    """The served model of ``params_file`` (written by ``evaluate --grid``), else the defaults."""
    saved = read_params_file(params_file)
    try:
        return ServedChoice.from_params(saved)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{params_file}: {exc}") from None


BEST_PARAMS_FILE = "best_params.json"


# -- best_params.json -------------------------------------------------------------------------


def write_best_params(
    settings: Settings,
    *,
    als: Mapping[str, Any] | None,
    kmeans_k: int | None,
    meta: Mapping[str, Any],
    blend: Mapping[str, Any] | None = None,
    neighbours: Mapping[str, Any] | None = None,
    components: Mapping[str, Any] | None = None,
    selection: Mapping[str, Any] | None = None,
) -> "Any":
    """Merge the chosen values into ``models_dir/best_params.json`` (atomic) and return its path.

    Keys are ``AlsParams`` field names (``rank, max_iter, reg_param, alpha, weight_transform,
    weight_epsilon, weight_clip``), ``kmeans_k``, ``blend`` (engine.serving.blend.BlendWeights),
    ``neighbours`` (engine.serving.neighbours.NeighbourParams), ``components`` (the lists of further
    blend terms), ``served_selection`` (the validation table of the choice) and ``meta`` (dataset,
    split, metric, when).
    """

    path = settings.models_dir / BEST_PARAMS_FILE
    current = load_best_params(settings) or {}
    if als:
        current.update({k: als[k] for k in ALS_KEYS if k in als})
    if kmeans_k is not None:
        current["kmeans_k"] = int(kmeans_k)
    if blend is not None:
        current["blend"] = dict(blend)
    if neighbours is not None:
        current["neighbours"] = dict(neighbours)
    if components is not None:
        current["components"] = {str(n): dict(p) for n, p in components.items()}
    if selection is not None:
        current["served_selection"] = dict(selection)
    current["meta"] = {**dict(meta), "written_at": datetime.now(UTC).isoformat(timespec="seconds")}
    settings.models_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(current, indent=2, sort_keys=True))
    return path


def load_best_params(settings: Settings) -> dict[str, Any] | None:
    """The saved ``best_params.json`` as a dict, or None when absent or unreadable."""
    path = settings.models_dir / BEST_PARAMS_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
