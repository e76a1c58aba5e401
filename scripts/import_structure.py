"""Print the import structure of a checkout: modules, arrows, circles, floors, lazy imports.

    python scripts/import_structure.py [ROOT]

Reads every import (lazy ones included) with the same AST walk as tests/test_layers.py.
"floors" is the longest chain of imports between project modules; "lazy" counts imports made
inside a function (project modules, and pyspark: the one sanctioned lazy pyspark import is the
Spark half of engine.core.weights). Works on older layouts too (top-level app_*.py files).
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests import test_layers as layers  # noqa: E402


def structure(root: Path) -> dict[str, int]:
    """Counts of the checkout at ``root``."""
    files = layers.project_files(root) + sorted(root.glob("app_*.py"))
    modules = {layers.module_name(root, p): p for p in files}
    graph: dict[str, set[str]] = {}
    lazy_project = lazy_spark = 0
    for name, path in modules.items():
        for imp in layers.imports_of(root, path):
            if imp.in_function:
                if layers.top(imp.target) in layers.SPARK:
                    lazy_spark += 1
                elif layers.top(imp.target) in ("engine", "spotify", "webapp") or imp.target.startswith("app_"):
                    lazy_project += 1
            parts = imp.target.split(".")
            for i in range(len(parts), 0, -1):  # the longest prefix that is a project module
                candidate = ".".join(parts[:i])
                if candidate in modules and candidate != name:
                    graph.setdefault(name, set()).add(candidate)
                    break

    @functools.cache
    def floor(name: str, stack: tuple[str, ...] = ()) -> int:
        if name in stack:
            return 0
        return 1 + max((floor(d, (*stack, name)) for d in graph.get(name, ())), default=0)

    return {
        "modules": len(modules),
        "arrows": sum(len(v) for v in graph.values()),
        "circles": len(layers.circles(graph)),
        "floors": max((floor(m) for m in modules), default=0),
        "lazy project imports": lazy_project,
        "lazy pyspark imports": lazy_spark,
    }


if __name__ == "__main__":
    counts = structure(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1])
    print(", ".join(f"{k} {v}" for k, v in counts.items()))
