"""The confidence transform of raw play counts — one home for training and fold-in.

Raw counts are heavy-tailed (Last.fm HetRec: median 260, max 352,698), and ALS's confidence
``c = 1 + alpha * r`` on raw counts lets a few huge counts dominate. The value fed to ALS is
``r' = transform(r)``:

- ``raw``:    r' = r
- ``log1p``:  r' = log(1 + r / epsilon)          (Hu, Koren, Volinsky 2008, §4)
- ``binary``: r' = 1 for every r > 0
- ``clip``:   r' = min(r, clip)

The transform and its parameters are recorded in the bundle manifest so serving applies the
same one (see :func:`transform_weights`). The numpy and Spark versions must agree; a test
checks that they do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from engine.core.config import WEIGHT_TRANSFORMS

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import Column


def transform_weights(
    r: np.ndarray, transform: str, *, epsilon: float = 1.0, clip: float = 100.0
) -> np.ndarray:
    """Apply the confidence transform to positive raw weights ``r`` (numpy, float64)."""
    r = np.asarray(r, dtype=np.float64)
    if transform == "raw":
        return r
    if transform == "log1p":
        return np.log1p(r / epsilon)
    if transform == "binary":
        return (r > 0).astype(np.float64)
    if transform == "clip":
        return np.minimum(r, clip)
    raise ValueError(f"unknown weight transform {transform!r}; expected one of {WEIGHT_TRANSFORMS}")


def transform_weights_col(
    col: "Column", transform: str, *, epsilon: float = 1.0, clip: float = 100.0
) -> "Column":
    """The same transform as a Spark column expression (double)."""
    from pyspark.sql import functions as F

    col = col.cast("double")
    if transform == "raw":
        return col
    if transform == "log1p":
        return F.log1p(col / F.lit(float(epsilon)))
    if transform == "binary":
        return F.when(col > 0, F.lit(1.0)).otherwise(F.lit(0.0))
    if transform == "clip":
        return F.least(col, F.lit(float(clip)))
    raise ValueError(f"unknown weight transform {transform!r}; expected one of {WEIGHT_TRANSFORMS}")
