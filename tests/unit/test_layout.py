"""The package's shape: imports run one way (no cycles, no imports hidden in functions to
dodge one), and the API process does not load the recognizer."""

from __future__ import annotations

import ast
import functools
import json
import re
import subprocess
import sys

from tests.support import ROOT

PACKAGE = ROOT / "qa_service"
HEAVY = ("faster_whisper", "ctranslate2", "sklearn", "onnxruntime", "torch")


def module_name(path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@functools.cache  # the tree does not change during a run: parse it once
def modules() -> dict[str, ast.Module]:
    return {
        module_name(p): ast.parse(p.read_text(encoding="utf-8"), str(p))
        for p in PACKAGE.rglob("*.py")
        if "migrations" not in p.parts
    }


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


@functools.cache
def graph() -> dict[str, set[str]]:
    trees = modules()
    known = set(trees)
    return {
        name: {m for node in ast.walk(tree) for m in imported(node, known, name)} - {name}
        for name, tree in trees.items()
    }


def test_no_import_cycles():
    edges = graph()
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    cycles = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                cycles.append(path[path.index(nxt) :] + [nxt] if nxt in path else [node, nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for start in sorted(edges):
        if start not in state:
            visit(start, [start])
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_package_imports_are_at_module_level():
    """An import of our own module inside a function is how cycles hide: none are left."""
    trees = modules()
    known = set(trees)
    hidden = []
    for name, tree in trees.items():
        for fn in ast.walk(tree):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for node in ast.walk(fn):
                    if isinstance(node, (ast.Import, ast.ImportFrom)) and imported(
                        node, known, name
                    ):
                        hidden.append(f"{name}.{fn.name}: line {node.lineno}")
    assert not hidden, hidden


# The stages from the bottom up: a module may import its own stage and the stages below it.
# Stages on one row are peers and never import each other.
LAYERS: list[tuple[str, ...]] = [
    ("exceptions",),
    ("config", "files"),
    ("i18n",),
    ("domain",),
    ("rules",),
    ("asr",),
    ("storage",),
    ("metrics", "review"),
    ("app",),
    ("worker",),
    ("api",),
    ("cli",),
]
RANK = {part: rank for rank, row in enumerate(LAYERS) for part in row}


def stage_of(module: str) -> str:
    """The stage a module belongs to: `qa_service.rules.checks` -> `rules`."""
    return module.split(".")[1] if module.count(".") else ""


def test_every_module_belongs_to_a_stage():
    stages = {stage_of(m) for m in modules()} - {""}
    assert stages <= set(RANK), f"not in LAYERS: {sorted(stages - set(RANK))}"


def upward(edges: dict[str, set[str]]) -> list[str]:
    """The imports that point up or sideways across stages."""
    wrong = []
    for module, targets in edges.items():
        here = stage_of(module)
        if not here:  # the package's front door imports lazily
            continue
        for target in targets:
            there = stage_of(target)
            if there and there != here and RANK[there] >= RANK[here]:
                wrong.append(f"{module} -> {target}")
    return sorted(wrong)


def test_layers_point_down():
    """Each stage imports only its own and lower stages (domain < rules < asr < storage <
    metrics, review < app < worker < api < cli); peers stay apart."""
    wrong = upward(graph())
    assert not wrong, "imports that point up or sideways:\n" + "\n".join(wrong)


def test_the_direction_check_sees_upward_and_sideways_imports():
    edges = {
        "qa_service.storage.store": {"qa_service.api.deps", "qa_service.domain.enums"},
        "qa_service.review.queues": {"qa_service.metrics.kpis"},
        "qa_service.api.deps": {"qa_service.storage.store"},
    }
    assert upward(edges) == [
        "qa_service.review.queues -> qa_service.metrics.kpis",
        "qa_service.storage.store -> qa_service.api.deps",
    ]


def heavy_modules_after(statement: str) -> subprocess.Popen[str]:
    """A fresh interpreter that runs `statement` and prints which HEAVY modules it loaded."""
    loaded = f"[m for m in {list(HEAVY)!r} if m in sys.modules]"
    code = f"import sys, json; {statement}; print(json.dumps({loaded}))"
    return subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_the_api_does_not_load_recognition():
    """`import qa_service.api` (and building the app) leaves the recognizer and the clustering
    libraries unloaded: a fresh interpreter, so nothing else in this session has loaded them."""
    # Both interpreters start at once: each spends seconds importing.
    api = heavy_modules_after("import qa_service.api; qa_service.api.create_app()")
    # the check itself can fail: the worker side does load them
    worker = heavy_modules_after("import qa_service.worker.jobs")
    api_out, api_err = api.communicate(timeout=120)
    worker_out, worker_err = worker.communicate(timeout=120)
    assert api.returncode == 0, api_err
    assert json.loads(api_out.strip().splitlines()[-1]) == []
    assert worker.returncode == 0, worker_err
    assert "faster_whisper" in json.loads(worker_out.strip().splitlines()[-1])


def test_the_readme_shows_the_tree():
    """README's "Where things live" shows every stage and top module of the package, one line
    each (a newcomer reads one screen, not the tree)."""
    import re

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Where things live", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"^\s*(\w+)(?:/|\.py)\s", section, flags=re.M))
    modules = {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    missing = sorted((modules | packages) - named)
    assert not missing, f"README 'Where things live' does not show: {missing}"


def test_no_merge_conflict_markers_are_left_in_the_tree():
    """A merge's unresolved hunk is not code: the page scripts would stop at the marker."""
    marker = re.compile(r"^(<{7}|>{7}) ", re.MULTILINE)
    left = [
        str(path.relative_to(ROOT))
        for folder in ("qa_service", "tests", "benchmarks", "docs", "corpus")
        for path in (ROOT / folder).rglob("*")
        if path.suffix in {".py", ".js", ".html", ".css", ".po", ".md", ".yaml", ".json"}
        and marker.search(path.read_text(encoding="utf-8", errors="replace"))
    ]
    assert left == []
