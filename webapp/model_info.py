"""What the Model page shows about the serving bundle, as plain frames (no streamlit).

:func:`served_model` says in words which model the bundle serves (ALS, item-kNN, RP3beta, EASE
or a blend of them, with each term's lists); :func:`selection_frame` is the validation table the
served model was chosen from (``params["served_selection"]``, written by ``evaluate --grid`` and
carried into the bundle by ``train``); :func:`refresh_frame` summarises the refresh log, one row
per round, newest first.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from engine.serving.blend import BlendWeights
from engine.serving.neighbours import NEIGHBOURS, NeighbourParams
from engine.state.refresh_log import read_log

#: The refresh log's columns the page shows, in order.
REFRESH_COLUMNS = ("started_at", "decision", "reason", "published_version", "serving_version", "duration_s")


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
    except (TypeError, ValueError) as exc:
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


def refresh_frame(models_dir: Path, *, limit: int = 50) -> pd.DataFrame:
    """The last ``limit`` refresh rounds, newest first, one row each (empty when none)."""
    records = read_log(models_dir, limit=limit)
    frame = pd.DataFrame([{c: r.get(c) for c in REFRESH_COLUMNS} for r in reversed(records)], columns=list(REFRESH_COLUMNS))
    return frame
