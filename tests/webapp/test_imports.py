"""The app's import rules: no pyspark anywhere on the app side; no streamlit in the pure modules."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PURE = ("webapp.listeners", "webapp.cards", "webapp.catalog")


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)


def _page_imports() -> list[str]:
    """Every import statement of app.py and the pages, as source lines."""
    lines = []
    for path in [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py"))]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                lines.append(ast.unparse(node))
    return lines


def test_webapp_and_pages_import_without_pyspark() -> None:
    modules = sorted(f"webapp.{p.stem}" for p in (ROOT / "webapp").glob("*.py") if p.stem != "__init__")
    code = "\n".join([
        "import sys",
        "for name in ('pyspark', 'py4j'): sys.modules[name] = None  # importing them now raises ImportError",
        "import importlib",
        *[f"importlib.import_module({m!r})" for m in modules],
        *_page_imports(),
        "print('ok')",
    ])
    result = _run(code)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stdout + result.stderr


def test_pure_modules_never_import_streamlit() -> None:
    code = (f"import sys; import {', '.join(PURE)}; bad = [m for m in ('streamlit', 'pyspark') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    result = _run(code)
    assert result.returncode == 0, result.stdout + result.stderr


def _imported(paths: list[Path]) -> dict[str, set[str]]:
    """Top-level package names each file imports (``from x.y import z`` counts as ``x``)."""
    out = {}
    for path in paths:
        names = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module.split(".")[0])
        out[str(path.relative_to(ROOT))] = names
    return out


def test_spotipy_stays_inside_spotify_and_spotify_knows_nothing_of_the_app() -> None:
    app_side = [ROOT / "app.py", *(ROOT / "pages").glob("*.py"), *(ROOT / "webapp").glob("*.py"),
                *(ROOT / "tests" / "app").glob("*.py"), *(ROOT / "tests" / "webapp").glob("*.py")]
    assert {f for f, names in _imported(app_side).items() if "spotipy" in names} == set()
    spotify = _imported(sorted((ROOT / "spotify").glob("*.py")))
    assert {f: names & {"engine", "webapp", "streamlit"} for f, names in spotify.items()
            if names & {"engine", "webapp", "streamlit"}} == {}
