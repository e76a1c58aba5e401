"""What the benches that also time a synthetic bundle share (``bench/blend.py``, ``bench/mixes.py``).

Such a bench prints its numbers on the committed demo bundle, then, with ``--items N``, writes a
synthetic N-item bundle (bench/serve.py's realistic items table, random rank-64 factors), times
it in a fresh child process (``--measure MODELS``: its own memory and caches, one JSON line on
stdout) and prints that; each part ends with a ``ratio: X.XX`` line.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.serve import write_bundles

#: The rank of the synthetic bundle's factors.
RANK = 64


def add_synthetic_args(parser: argparse.ArgumentParser, *, reps: int) -> None:
    """``--reps`` (timed repetitions), ``--items`` (also time a synthetic bundle) and the hidden
    ``--measure MODELS`` that the child process is started with."""
    parser.add_argument("--reps", type=int, default=reps)
    parser.add_argument("--items", type=int, default=0, help="also time a synthetic bundle of this many items")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)


def measure_in_child(script: str, *, n_items: int, reps: int, prefix: str) -> dict[str, Any]:
    """Write a synthetic ``n_items`` bundle in a scratch folder, run ``script --measure`` on it
    in a fresh process and return the JSON of the child's last line."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        models = write_bundles(Path(tmp), n_items=n_items, ranks=[RANK], top_n=0)[RANK]
        child = subprocess.run([sys.executable, script, "--measure", str(models), "--reps", str(reps)],
                               capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(child.stdout.strip().splitlines()[-1])
    return result


def print_child_result(result: dict[str, Any]) -> None:
    """The child's side of ``--measure``: its one JSON line."""
    print(json.dumps(result))


def print_ratio(ratio: float) -> None:
    """The closing ``ratio: X.XX`` line of a part (the README quotes it)."""
    print(f"ratio: {ratio:.2f}")
