"""The import rules of docs/ARCHITECTURE.md, checked on every import the code makes.

Two halves:

1. An AST walk over every module of ``engine/``, ``spotify/``, ``webapp/``, ``pages/`` and
   ``app.py`` — imports inside functions and ``if TYPE_CHECKING:`` blocks included — against the
   layer table below, plus: no import circles between modules, and no import inside a function
   except at the pyspark boundary.
2. A subprocess that imports everything ``app.py`` and the pages reach with pyspark (and py4j)
   made unimportable, and one that imports the streamlit-free modules and checks streamlit
   stayed out of ``sys.modules``.

``test_a_planted_violation_is_caught`` writes a small tree with one break of each rule and
asserts the checker names every one, so a checker that silently passes everything fails here.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: The engine's packages, lowest first; each may import only the packages listed for it.
ENGINE_MAY_IMPORT: dict[str, set[str]] = {
    "core": set(),
    "bundle": {"core"},
    "state": {"core"},
    "spark": {"core"},
    "serving": {"core", "bundle", "state"},
    "ingest": {"core", "state", "spark"},
    "training": {"core", "bundle", "serving", "state", "spark"},
    "evaluation": {"core", "bundle", "serving", "state", "spark", "ingest", "training"},
    "similarity": {"core", "bundle", "state", "spark"},
    "streaming": {"core", "bundle", "state", "spark", "ingest"},
    "refresh": {"core", "bundle", "serving", "state", "spark", "ingest", "training", "evaluation",
                "similarity", "streaming"},
    "commands": {"core", "bundle", "serving", "state", "spark", "ingest", "training", "evaluation",
                 "similarity", "streaming", "refresh"},
}
#: What the app process may import of the engine: numpy-side packages only.
APP_SIDE = {"core", "bundle", "serving", "state"}
#: Third-party packages that must never be imported by the app-reachable side.
SPARK = {"pyspark", "py4j"}
#: webapp modules that may import streamlit; the others are plain Python, testable without it.
WEBAPP_STREAMLIT = {"resources", "run_memo", "session", "actions", "widgets", "blend_view", "extend_view"}
#: The one sanctioned lazy pyspark import on the app side: the Spark half of the weight
#: transform, kept beside its numpy half so the two cannot drift apart.
LAZY_PYSPARK_OK = {"engine.core.weights"}
#: Other sanctioned lazy imports, (module, package): numba's compiler costs ~55 MiB of RSS, and
#: only a process that turns the int8 pass on (SERVE_INT8) should load it.
LAZY_OK = {("engine.serving.quantized", "numba")}


@dataclass(frozen=True)
class Import:
    """One import statement's target, where it stands, and whether it runs lazily."""

    module: str  # importing module, dotted ("engine.serving.recommender", "pages.home", "app")
    target: str  # imported module, dotted ("engine.core.config", "pyspark.sql")
    line: int
    in_function: bool
    type_only: bool = False  # under ``if TYPE_CHECKING:``: never runs


def module_name(root: Path, path: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_files(root: Path) -> list[Path]:
    files = [p for d in ("engine", "spotify", "webapp", "pages") for p in sorted((root / d).rglob("*.py"))]
    return files + ([root / "app.py"] if (root / "app.py").is_file() else [])


def imports_of(root: Path, path: Path) -> list[Import]:
    """Every import in ``path``; ``from engine.x import y`` yields ``engine.x.y`` when ``y`` is a
    submodule (so ``from engine.bundle import publish`` counts as engine.bundle.publish)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    me = module_name(root, path)
    found: list[Import] = []

    def visit(node: ast.AST, in_function: bool, type_only: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inside = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            typing_block = type_only or (isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test))
            if isinstance(child, ast.Import):
                found.extend(Import(me, a.name, child.lineno, in_function, type_only) for a in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                base = root.joinpath(*child.module.split("."))
                subs = [a.name for a in child.names if (base / a.name).is_dir() or (base / f"{a.name}.py").is_file()]
                if len(subs) < len(child.names):
                    found.append(Import(me, child.module, child.lineno, in_function, type_only))
                found.extend(Import(me, f"{child.module}.{s}", child.lineno, in_function, type_only) for s in subs)
            visit(child, inside, typing_block)

    visit(tree, False, False)
    return found


def top(name: str) -> str:
    return name.split(".")[0]


def engine_package(name: str) -> str | None:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "engine" else None


def violations(root: Path) -> list[str]:
    """Every break of the layer rules under ``root``, as ``file:line: why`` lines."""
    out: list[str] = []
    graph: dict[str, set[str]] = {}
    for path in project_files(root):
        rel = path.relative_to(root)
        for imp in imports_of(root, path):
            where = f"{rel}:{imp.line}: {imp.module} imports {imp.target}"
            src, dst = imp.module, imp.target
            if top(dst) in {"engine", "spotify", "webapp"} and not dst.startswith(src + "."):
                graph.setdefault(src, set()).add(dst)
            src_pkg, dst_pkg = engine_package(src), engine_package(dst)
            if top(src) == "engine":
                if top(dst) in {"streamlit", "webapp", "spotify", "spotipy"}:
                    out.append(f"{where}: nothing in engine/ imports {top(dst)}")
                lazy_ok = src in LAZY_PYSPARK_OK and (imp.in_function or imp.type_only)
                if src_pkg in APP_SIDE and top(dst) in SPARK and not lazy_ok:
                    out.append(f"{where}: engine.{src_pkg} is app-side and never imports {top(dst)}")
                if src_pkg in ENGINE_MAY_IMPORT and dst_pkg and dst_pkg != src_pkg \
                        and dst_pkg not in ENGINE_MAY_IMPORT[src_pkg]:
                    out.append(f"{where}: engine.{src_pkg} may not import engine.{dst_pkg}")
                if src_pkg is None and src == "engine.__main__" and dst_pkg not in (None, "core", "commands"):
                    out.append(f"{where}: __main__ dispatches to engine.commands only")
                if dst_pkg == "commands" and src_pkg != "commands" and src != "engine.__main__":
                    out.append(f"{where}: engine.commands is imported only by engine.__main__")
                if imp.in_function and not (top(dst) in SPARK and src in LAZY_PYSPARK_OK) \
                        and (src, top(dst)) not in LAZY_OK:
                    out.append(f"{where}: import inside a function (imports sit at the top of a module)")
            elif top(src) == "spotify":
                if top(dst) in {"engine", "webapp", "streamlit"}:
                    out.append(f"{where}: spotify/ imports neither engine, webapp nor streamlit")
                if imp.in_function:
                    out.append(f"{where}: import inside a function (imports sit at the top of a module)")
            elif top(src) in {"webapp", "pages", "app"}:
                if top(dst) in SPARK or top(dst) == "spotipy":
                    out.append(f"{where}: the app never imports {top(dst)}")
                if dst_pkg and dst_pkg not in APP_SIDE:
                    out.append(f"{where}: the app imports only engine.{{{', '.join(sorted(APP_SIDE))}}}")
                if dst == "engine":
                    out.append(f"{where}: import the engine package you need, not engine itself")
                if top(src) == "webapp" and top(dst) == "streamlit" and src.split(".")[-1] not in WEBAPP_STREAMLIT:
                    out.append(f"{where}: only webapp.{{{', '.join(sorted(WEBAPP_STREAMLIT))}}} import streamlit")
                if imp.in_function:
                    out.append(f"{where}: import inside a function (imports sit at the top of a module)")
    out.extend(f"import circle: {' -> '.join(c)}" for c in circles(graph))
    return out


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each as a loop."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def strong(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component) + [sorted(component)[0]])

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return found


def test_every_import_keeps_the_layer_rules() -> None:
    assert project_files(ROOT), "no project files found"
    assert violations(ROOT) == []


def test_a_planted_violation_is_caught(tmp_path: Path) -> None:
    def plant(rel: str, code: str) -> None:
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        for parent in path.relative_to(tmp_path).parents:
            if str(parent) != ".":
                (tmp_path / parent / "__init__.py").touch()
        path.write_text(textwrap.dedent(code), encoding="utf-8")

    plant("engine/core/config.py", "X = 1\n")
    plant("engine/core/weights.py", "if TYPE_CHECKING:\n    import pyspark\ndef f():\n    from pyspark.sql import functions\n")
    plant("engine/serving/recommender.py", "def f():\n    from pyspark.sql import functions\n")
    plant("engine/serving/a.py", "from engine.serving import b\n")
    plant("engine/serving/b.py", "from engine.serving import a\n")
    plant("engine/bundle/load.py", "from engine.serving import a\n")
    plant("engine/training/run.py", "from engine.evaluation import x\n")
    plant("engine/evaluation/x.py", "import streamlit\n")
    plant("spotify/client.py", "from engine.core import config\n")
    plant("webapp/cards.py", "import streamlit as st\n")
    plant("webapp/listeners.py", "def f():\n    import json\n")
    plant("webapp/resources.py", "import streamlit as st\nfrom engine.training import run\n")
    plant("pages/home.py", "from spotipy import Spotify\n")
    found = "\n".join(violations(tmp_path))
    for expected in (
        "engine/serving/recommender.py:2: engine.serving.recommender imports pyspark.sql: engine.serving is app-side",
        "import inside a function",
        "import circle: engine.serving.a -> engine.serving.b -> engine.serving.a",
        "engine/bundle/load.py:1: engine.bundle.load imports engine.serving.a: engine.bundle may not import engine.serving",
        "engine.training may not import engine.evaluation",
        "engine/evaluation/x.py:1: engine.evaluation.x imports streamlit: nothing in engine/ imports streamlit",
        "spotify/client.py:1: spotify.client imports engine.core.config: spotify/ imports neither",
        "webapp/cards.py:1: webapp.cards imports streamlit: only webapp.",
        "webapp/resources.py:2: webapp.resources imports engine.training.run: the app imports only",
        "pages/home.py:1: pages.home imports spotipy: the app never imports spotipy",
        "webapp/listeners.py:2: webapp.listeners imports json: import inside a function",
    ):
        assert expected in found, f"not caught: {expected}\n--- found ---\n{found}"
    assert "engine/core/weights.py" not in found
    assert len(found.splitlines()) == 11, found  # one line per planted break, nothing else


def app_reach(root: Path) -> list[str]:
    """Project modules reachable by imports from app.py and pages/ (the app process)."""
    by_name = {module_name(root, p): p for p in project_files(root)}
    todo = ["app", *(module_name(root, p) for p in sorted((root / "pages").glob("*.py")))]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen or name not in by_name:
            continue
        seen.add(name)
        for imp in imports_of(root, by_name[name]):
            parts = imp.target.split(".")
            # a module's parents (packages) run too
            todo.extend(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return sorted(n for n in seen if n != "app" and not n.startswith("pages"))


BLOCK_SPARK = """
import importlib, importlib.abc, json, sys

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("pyspark", "py4j"):
            raise ImportError(f"{name} is not importable in the app process")
        return None

sys.meta_path.insert(0, Block())
for name in json.loads(sys.argv[1]):
    importlib.import_module(name)
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ("pyspark", "py4j", "streamlit"))))
"""


def run_imports(modules: list[str]) -> list[str]:
    result = subprocess.run([sys.executable, "-c", BLOCK_SPARK, json.dumps(modules)], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_app_imports_its_whole_reach_without_pyspark() -> None:
    reach = app_reach(ROOT)
    assert "engine.serving.recommender" in reach and "webapp.resources" in reach, reach
    assert not [m for m in reach if engine_package(m) not in (None, *APP_SIDE)], reach
    loaded = run_imports(reach)
    assert not [m for m in loaded if not m.startswith("streamlit")], loaded


@pytest.mark.parametrize("area", ["engine.core", "engine.bundle", "engine.serving", "engine.state", "spotify", "webapp"])
def test_streamlit_free_modules_import_neither_spark_nor_streamlit(area: str) -> None:
    base = ROOT.joinpath(*area.split("."))
    modules = [module_name(ROOT, p) for p in sorted(base.rglob("*.py"))]
    if area == "webapp":
        modules = [m for m in modules if m.split(".")[-1] not in WEBAPP_STREAMLIT and m != "webapp"]
    assert modules
    assert run_imports(modules) == []


def test_architecture_doc_states_the_rules_this_test_enforces() -> None:
    """docs/ARCHITECTURE.md's table and tree say what ENGINE_MAY_IMPORT says, package by package."""
    doc = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    stated: dict[str, set[str]] = {}
    for line in doc.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`engine.") and cells[0].endswith("`"):
            pkg = cells[0].strip("`").split(".")[1]
            allowed = cells[1].split(";")[0]
            if allowed.startswith("everything above"):
                stated[pkg] = {p for p in ENGINE_MAY_IMPORT if list(ENGINE_MAY_IMPORT).index(p) < list(ENGINE_MAY_IMPORT).index(pkg)}
            elif allowed.startswith("any engine package"):
                stated[pkg] = set(ENGINE_MAY_IMPORT) - {pkg}
            else:
                stated[pkg] = {p.strip() for p in allowed.split(",") if p.strip() not in ("—", "")}
    assert stated == ENGINE_MAY_IMPORT
    packages = {p.name for p in (ROOT / "engine").iterdir() if (p / "__init__.py").is_file()}
    assert packages == set(ENGINE_MAY_IMPORT)
    for pkg in packages:
        assert f"  {pkg}/" in doc, f"engine/{pkg}/ is missing from the tree in docs/ARCHITECTURE.md"
