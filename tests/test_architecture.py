"""The package's layering (ARCHITECTURE.md) holds: no import cycle, no import that climbs a layer,
no web or plotting framework in the core, and every module imports."""
from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import pelsvae_core

CORE = Path(pelsvae_core.__file__).parent
#: Bottom to top; a module may import its own layer and those below, never one above.
LAYERS = (
    ("foundations", ("paths", "atomic", "fourier", "periodogram", "photometry")),
    ("data", ("data",)),
    ("model", ("model",)),
    ("physics", ("physics",)),
    ("generation", ("cadences", "generation", "latents", "tables")),
    ("inference", ("inference",)),
    ("api", ("api",)),
    ("evaluation", ("evaluation",)),
    ("simulation", ("simulate",)),
    ("pipeline", ("pipeline",)),
    ("entry points", ("cli", "infer_command", "__init__")),
)
FRAMEWORKS = ("panel", "bokeh", "holoviews")


def module_names() -> list[str]:
    return sorted(".".join(path.relative_to(CORE.parent).with_suffix("").parts)
                  for path in CORE.rglob("*.py"))


KNOWN = {m.removesuffix(".__init__") for m in module_names()}


def layer_of(module: str) -> int:
    parts = module.split(".")[1:] or ["__init__"]
    for index, (_, tops) in enumerate(LAYERS):
        if parts[0] in tops or (parts[0] == "__init__" and "__init__" in tops):
            return index
    raise AssertionError(f"{module} is in no layer of ARCHITECTURE.md; add it to LAYERS")


def imports_of(module: str) -> set[str]:
    """Every module this module imports, at module level or inside functions, absolute names."""
    path = CORE.parent / (module.replace(".", "/") + ".py")
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    if path.name == "__init__.py":
        package = module.removesuffix(".__init__")
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            # "from X import a": the module X.a if there is one, else X itself
            found.update(f"{base}.{alias.name}" if f"{base}.{alias.name}" in KNOWN else base
                         for alias in node.names)
    return {name for name in found if name in KNOWN and name != module.removesuffix(".__init__")}


def graph() -> dict[str, set[str]]:
    return {m.removesuffix(".__init__"): imports_of(m) for m in module_names()}


def test_every_module_imports():
    for module in module_names():
        importlib.import_module(module.removesuffix(".__init__"))


def find_cycle(edges: dict[str, set[str]]) -> list[str]:
    """One import cycle as a path (first module repeated at the end), or [] if there is none."""
    done: set[str] = set()

    def visit(node: str, trail: list[str]) -> list[str]:
        for child in sorted(edges.get(node, ())):
            if child in trail:
                return trail[trail.index(child):] + [child]
            if child not in done:
                found = visit(child, trail + [child])
                if found:
                    return found
        done.add(node)
        return []

    for node in sorted(edges):
        found = [] if node in done else visit(node, [node])
        if found:
            return found
    return []


def climbs(edges: dict[str, set[str]]) -> list[str]:
    """Every import of a higher layer (the package's lazy re-export of the API excepted)."""
    return [f"{module} ({LAYERS[layer_of(module)][0]}) imports {target} "
            f"({LAYERS[layer_of(target)][0]})"
            for module, targets in sorted(edges.items()) for target in sorted(targets)
            if layer_of(target) > layer_of(module) and module != "pelsvae_core"]


def test_no_import_cycle():
    assert not find_cycle(graph()), " -> ".join(find_cycle(graph()))


def test_no_import_climbs_a_layer():
    assert not climbs(graph()), "\n".join(climbs(graph()))


def test_the_checks_see_a_planted_cycle_and_climb():
    planted = {**graph(), "pelsvae_core.data.dataset": {"pelsvae_core.api"}}
    assert "pelsvae_core.data.dataset (data) imports pelsvae_core.api (api)" in climbs(planted)
    assert find_cycle(planted)[0] == find_cycle(planted)[-1]
    assert "pelsvae_core.data.dataset" in find_cycle(planted)


def test_core_never_imports_a_web_or_plotting_framework():
    for module in module_names():
        path = CORE.parent / (module.replace(".", "/") + ".py")
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level
                     else [])
            assert not any(n.split(".")[0] in FRAMEWORKS for n in names), f"{module} imports {names}"
