"""The package's shape: imports run one way (no cycles, no imports hidden in functions to
dodge one), and the API process does not load the recognizer."""
from __future__ import annotations

import ast
import json
import subprocess
import sys

from tests.support import ROOT

PACKAGE = ROOT / "qa_service"
HEAVY = ("faster_whisper", "ctranslate2", "sklearn", "onnxruntime", "torch")


def module_name(path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, ast.Module]:
    return {module_name(p): ast.parse(p.read_text(encoding="utf-8"), str(p))
            for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts}


def imported(node: ast.AST, known: set[str], here: str) -> list[str]:
    """The package modules one import statement names."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name in known]
    if isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:  # relative: from the importing module's package
            package = here.split(".")[: -node.level] if not here.endswith("__init__") else here
            base = ".".join([*package, base] if base else package)
        out = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in known]
        return out or ([base] if base in known else [])
    return []


def graph() -> dict[str, set[str]]:
    trees = modules()
    known = set(trees)
    return {name: {m for node in ast.walk(tree) for m in imported(node, known, name)} - {name}
            for name, tree in trees.items()}


def test_no_import_cycles():
    edges = graph()
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    cycles = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                cycles.append(path[path.index(nxt):] + [nxt] if nxt in path else [node, nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for start in sorted(edges):
        if start not in state:
            visit(start, [start])
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_package_imports_are_at_module_level():
    """An import of our own module inside a function is how cycles hide: none are left."""
    hidden = []
    for name, tree in modules().items():
        known = set(modules())
        for fn in ast.walk(tree):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for node in ast.walk(fn):
                    if isinstance(node, (ast.Import, ast.ImportFrom)) and imported(node, known, name):
                        hidden.append(f"{name}.{fn.name}: line {node.lineno}")
    assert not hidden, hidden


def test_layers_point_down():
    """Storage and the rubric model never reach up to the API, the queue or the workers."""
    edges = graph()
    upper = {"qa_service.api", "qa_service.dispatch", "qa_service.jobs", "qa_service.nightly",
             "qa_service.cli", "qa_service.service", "qa_service.pipeline"}
    for low in ("qa_service.store", "qa_service.db", "qa_service.rubric", "qa_service.enums",
                "qa_service.results", "qa_service.rollup", "qa_service.kpis"):
        reached, todo = set(), [low]
        while todo:
            for nxt in edges[todo.pop()] - reached:
                reached.add(nxt)
                todo.append(nxt)
        assert not reached & upper, f"{low} reaches {sorted(reached & upper)}"


def test_the_api_does_not_load_recognition():
    """`import qa_service.api` (and building the app) leaves the recognizer and the clustering
    libraries unloaded: a fresh interpreter, so nothing else in this session has loaded them."""
    code = ("import sys, json; import qa_service.api; qa_service.api.create_app(); "
            f"print(json.dumps([m for m in {list(HEAVY)!r} if m in sys.modules]))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
    # the check itself can fail: the worker side does load them
    code = ("import sys, json; import qa_service.jobs; "
            f"print(json.dumps([m for m in {list(HEAVY)!r} if m in sys.modules]))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert "faster_whisper" in json.loads(done.stdout.strip().splitlines()[-1])


def test_the_readme_names_every_module():
    """README's "Where things live" table lists every module of the package (a newcomer reads
    one screen, not the tree)."""
    import re
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Where things live", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`([\w/]+)\.py`", section)) | set(re.findall(r"`(\w+)/`", section))
    named |= {n.split("/")[0] for n in named if "/" in n}  # api/deps.py names api
    modules = {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists() or p.name == "migrations"}
    missing = sorted((modules | packages) - named)
    assert not missing, f"README 'Where things live' does not name: {missing}"
