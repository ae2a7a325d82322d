"""The package's layers (README, "Architecture"): arrows point down only, and
no module imports itself back through others (a cycle), counting imports
inside functions too (a "lazy" import is an arrow like any other)."""

from __future__ import annotations

import ast
import pathlib

import flowalerts

PACKAGE = pathlib.Path(flowalerts.__file__).resolve().parent

# What each layer may import besides itself (the first name under flowalerts).
ALLOWED: dict[str, set[str]] = {
    "data": set(),
    "core": {"data"},
    "knowledge": {"core", "data"},
    "traffic": {"core", "knowledge"},
    "engine": {"core", "knowledge", "traffic"},
    "learners": {"engine", "traffic", "knowledge", "core"},
    "detections": {"learners", "engine", "traffic", "knowledge", "core"},
    # The catalog imports every detection and learner (discovery by declaration).
    "catalog": {"detections", "learners", "engine", "core"},
    "io": {"core", "knowledge", "data"},
    "hosts": {"catalog", "engine", "io", "core", "knowledge", "data"},
    "cli": {"hosts", "catalog", "io", "engine", "core", "knowledge", "data"},
}
# Top-level modules of the package (flowalerts/__init__.py, __main__.py).
TOP = {"__init__": {"cli"}, "__main__": {"cli"}}


def module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: pathlib.Path) -> set[str]:
    """Every flowalerts module ``path`` imports, at any depth of its code."""
    found: set[str] = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.split(".")[0] == "flowalerts")
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            if base.split(".")[0] != "flowalerts":
                continue
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if candidate in MODULES else base)
    return {name for name in found if name in MODULES}


SOURCES = sorted(p for p in PACKAGE.rglob("*.py") if "slips_module" not in p.parts)
MODULES = {module_name(p) for p in SOURCES}
GRAPH = {module_name(p): imports_of(p) for p in SOURCES}


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_arrows_point_down_only() -> None:
    wrong = []
    for module, targets in sorted(GRAPH.items()):
        own = layer(module)
        allowed = ALLOWED.get(own, TOP.get(module.rpartition(".")[2], set()))
        for target in sorted(targets):
            if layer(target) != own and layer(target) not in allowed and target != "flowalerts":
                wrong.append(f"{module} -> {target}")
    assert wrong == []


def test_detections_do_not_import_each_other() -> None:
    """A detection shares through traffic/, engine/ or detections/shared/, never by importing another detection."""
    wrong = [
        f"{module} -> {target}"
        for module, targets in sorted(GRAPH.items())
        if layer(module) == "detections"
        for target in sorted(targets)
        if layer(target) == "detections" and target != module and ".shared" not in target and target.count(".") > 2
    ]
    assert wrong == []


def test_no_import_cycles() -> None:
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        path.append(module)
        for target in sorted(GRAPH.get(module, ())):
            # A package's __init__ importing its own children is not a cycle back up.
            if target == module or target.startswith(module + "."):
                continue
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target)
        path.pop()
        state[module] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module)
    assert cycles == []
