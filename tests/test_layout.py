"""The package layout's rules, read from the source with ``ast`` (nothing is imported or run).

The packages follow the data: MIDI and windows (``data``) -> the model -> training; features -> analyses ->
figures -> the study -> the explorer and the command line. A lower layer never imports a higher one, there
are no import cycles between modules, torch stays in the model side, matplotlib in figures and the study, and
optional heavy dependencies are imported inside functions only. CONTRIBUTING.md explains each rule.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "musicneurons"

LEAVES = {"constants", "atomic_files", "device", "errors", "arrays", "provenance"}
# what each layer may import (besides itself and the leaves)
ALLOWED: dict[str, set[str]] = {
    "leaves": set(),
    "data": set(),
    "features": set(),
    "model": {"data"},
    "training": {"data", "model"},
    "analysis": {"data", "features"},
    "figures": {"data", "features", "analysis"},
    "encode": {"data", "model"},
    "study": {"data", "model", "training", "features", "analysis", "figures", "encode"},
    "explore": {"data", "model", "features", "analysis", "figures", "study", "encode"},
    "cli": {"data", "model", "training", "features", "analysis", "figures", "study", "encode", "explore"},
    "root": {"data", "model", "training", "features", "analysis", "figures", "study", "encode", "explore"},
}
TORCH_LAYERS = {"model", "training", "encode"}  # and the leaf device.py
MATPLOTLIB_LAYERS = {"figures", "study"}
LAZY_ONLY = {"music21", "ray", "phik", "pretty_midi", "mido", "fluidsynth", "playwright", "statsmodels"}
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 120


def modules() -> Iterator[tuple[str, Path]]:
    """(dotted name, path) of every Python module of the package."""
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(parts), path


def layer(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "root"
    if len(parts) == 2 and parts[1] in LEAVES | {"__main__"}:
        return "leaves" if parts[1] in LEAVES else "cli"
    return parts[1]


def imports(path: Path, module: str) -> Iterator[tuple[str, int, bool]]:
    """(imported module, line, at module level) for every import in the file, relative ones resolved."""
    tree = ast.parse(path.read_text(), filename=str(path))
    top_level = {id(node) for node in tree.body}
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno, id(node) in top_level
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base]) if base else ".".join(anchor)
            for alias in node.names:
                name = f"{base}.{alias.name}"
                yield (name if is_module(name) else base), node.lineno, id(node) in top_level


def is_module(dotted: str) -> bool:
    if not dotted.startswith("musicneurons."):
        return False
    rel = Path(*dotted.split(".")[1:])
    return (PACKAGE / rel).with_suffix(".py").exists() or (PACKAGE / rel / "__init__.py").exists()


ALL = list(modules())


def test_the_tree_has_its_layers() -> None:
    layers = {layer(m) for m, _ in ALL}
    assert {"data", "model", "training", "features", "analysis", "figures", "study", "cli"} <= layers
    top = [p.name for p in PACKAGE.glob("*.py")]
    assert len(top) <= 10, f"at most 10 top-level modules: {sorted(top)}"


@pytest.mark.parametrize(("module", "path"), ALL, ids=[m for m, _ in ALL])
def test_imports_follow_the_layers(module: str, path: Path) -> None:
    mine = layer(module)
    problems = []
    for name, line, top_level in imports(path, module):
        root = name.split(".")[0]
        if name.startswith("musicneurons.") and name != "musicneurons":
            theirs = layer(name)
            if theirs not in {mine, "leaves"} | ALLOWED[mine]:
                problems.append(f"line {line}: the {mine} layer imports {name} ({theirs} layer)")
            private = any(p.startswith("_") and not p.startswith("__") for p in name.split(".")[2:])
            if private and theirs != mine:
                problems.append(f"line {line}: private module {name} from another package")
        if root == "torch" and mine not in TORCH_LAYERS and module != "musicneurons.device":
            problems.append(f"line {line}: torch imported in the {mine} layer")
        if root == "matplotlib" and mine not in MATPLOTLIB_LAYERS:
            problems.append(f"line {line}: matplotlib imported in the {mine} layer")
        if root in LAZY_ONLY and top_level:
            problems.append(f"line {line}: optional dependency {root} imported at module level")
    assert not problems, f"{path.relative_to(PACKAGE.parent)}:\n" + "\n".join(problems)


def test_no_import_cycles() -> None:
    graph: dict[str, set[str]] = {m: set() for m, _ in ALL}
    for module, path in ALL:
        for name, _, _ in imports(path, module):
            while name and name not in graph:
                name = name.rpartition(".")[0]
            if name and name != module and name != "musicneurons":
                graph[module].add(name)
    # packages import their own modules through __init__; a cycle is between modules that are not ancestors
    cycles = []
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if node.startswith(nxt + ".") or nxt.startswith(node + "."):
                continue
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*stack[stack.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


@pytest.mark.parametrize(("module", "path"), ALL, ids=[m for m, _ in ALL])
def test_modules_and_functions_stay_small(module: str, path: Path) -> None:
    text = path.read_text()
    n_lines = text.count("\n")
    assert n_lines <= MAX_MODULE_LINES, f"{module}: {n_lines} lines (at most {MAX_MODULE_LINES})"
    long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert not long, f"{module}: functions over {MAX_FUNCTION_LINES} lines: {long}"
