"""What a hostile data-export upload costs: CPU seconds and peak memory of one import each.

Builds each upload of ``tests.spotify.hostile_exports.HOSTILE`` (a 1 GiB zip bomb, 100,000
members, 50 M levels of nesting, four 50 MB members, 98 M empty rows, 45 M JSON tokens, a 31 MiB title, and the
largest export the limits let through) in a temporary folder and imports it in a fresh process,
as the page does. Prints the upload's size, the import's CPU seconds and its peak RSS over the
process before the import, and the sentence the visitor sees: a measurement, not a pass/fail
(``tests/spotify/test_export_limits.py`` holds the 256 MiB bound). Run from the repository
root: ``python bench/upload.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.spotify.hostile_exports import HOSTILE  # noqa: E402


def main() -> None:
    print(f"{'upload':<20} {'zip size':>12} {'cpu s':>7} {'peak MiB':>9}  what the visitor sees")
    with tempfile.TemporaryDirectory() as tmp:
        for hostile in HOSTILE:
            path = hostile.build(Path(tmp))
            out = subprocess.run([sys.executable, "-m", "tests.spotify.hostile_exports", str(path)], cwd=ROOT,
                                 capture_output=True, text=True, check=True)
            measured = json.loads(out.stdout)
            seen = measured["seen"][0] if measured["seen"] else f"imported, {measured['plays']:,} plays"
            print(f"{hostile.name:<20} {path.stat().st_size:>12,} {measured['cpu_s']:>7.2f} "
                  f"{measured['peak_mib']:>9.1f}  {seen[:110]}")
            path.unlink()


if __name__ == "__main__":
    main()
