"""bqsynth's import graph: no circles, no import that climbs to a later stage, no helper written twice.

The graph is read from the source with ``ast``, so it sees every import a module can make:
module-level ones and the lazy ones inside functions, which is where a circle hides; an
import of ``bqsynth.llm.base`` from outside ``bqsynth.llm`` also counts as one of the
package ``bqsynth.llm``, whose ``__init__`` runs first. "Written twice" is a top-level
function, class or CONSTANT defined in two modules: one of them should import the other's,
or, when the two do different things, they should say so in their names.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[2] / "bqsynth"

# Lowest first. A module may import its own package and anything in a lower layer, never a
# higher one. Modules that share a layer may import each other; the cycle check keeps that honest.
LAYERS: tuple[tuple[str, ...], ...] = (
    (
        "bqsynth",
        "bqsynth.values",
        "bqsynth.models",
        "bqsynth.errors",
        "bqsynth.semantics",
        "bqsynth.shapes",
        "bqsynth.text_kinds",
        "bqsynth.groups",
    ),
    ("bqsynth.gcp",),
    ("bqsynth.config",),
    ("bqsynth.sources",),
    ("bqsynth.planning",),
    ("bqsynth.generation",),
    ("bqsynth.llm",),
    ("bqsynth.delivery",),
    ("bqsynth.evaluation",),
    ("bqsynth.steps", "bqsynth.deploy"),
)
LAYER_NAMES = (
    "0 base",
    "1 gcp",
    "2 config",
    "3 sources",
    "4 planning",
    "5 generation",
    "6 llm",
    "7 delivery",
    "8 evaluation",
    "9 steps/deploy",
)

# Top-level names that may be defined in several modules because each module needs its own.
SHARED_NAMES_ALLOWED: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int
    implied: bool = False  # the package __init__ that importing one of its modules runs first


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE_DIR.rglob("*.py"))}


def _resolve(importer: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = importer.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(name: str, path: Path, known: set[str]) -> list[Import]:
    """Every bqsynth module ``name`` imports, at any depth of the module (lazy imports included)."""
    found: list[Import] = []
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = _resolve(name, is_package, node)
            # ``from bqsynth.gcp import sql`` imports the module bqsynth.gcp.sql.
            targets = [f"{module}.{a.name}" if f"{module}.{a.name}" in known else module for a in node.names]
        else:
            continue
        for target in targets:
            if target == "bqsynth" or target.startswith("bqsynth."):
                found.append(Import(name, target, node.lineno))
                # Importing bqsynth.llm.base from outside bqsynth.llm first runs bqsynth/llm/__init__.py.
                parts = target.split(".")
                for depth in range(2, len(parts)):
                    package = ".".join(parts[:depth])
                    if package in known and not (name == package or name.startswith(package + ".")):
                        found.append(Import(name, package, node.lineno, implied=True))
    return [i for i in found if i.imported in known and i.imported != name]


def layer_of(module: str) -> int | None:
    for index, members in enumerate(LAYERS):
        if any(module == m or (m != "bqsynth" and module.startswith(m + ".")) for m in members):
            return index
    return None


def import_graph() -> tuple[dict[str, Path], list[Import]]:
    found = modules()
    known = set(found)
    return found, [i for name, path in found.items() for i in imports_of(name, path, known)]


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """One concrete circle per strongly connected component (Tarjan), each as a path back to its start."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(component)

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return [_circle_in(component, edges) for component in components]


def _circle_in(component: set[str], edges: dict[str, set[str]]) -> list[str]:
    start = min(component)
    # Breadth-first from start back to start, inside the component: the shortest circle through it.
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt in sorted(edges.get(node, ())):
                if nxt == start:
                    return paths[node] + [start]
                if nxt in component and nxt not in paths:
                    paths[nxt] = paths[node] + [nxt]
                    following.append(nxt)
        frontier = following
    return sorted(component)


def _is_constant_name(name: str) -> bool:
    return name.lstrip("_")[:1].isupper() and name.upper() == name


def top_level_definitions(path: Path) -> list[tuple[str, int]]:
    """Functions, classes and CONSTANTS a module defines at its top level (also under a top-level if/try)."""
    names: list[tuple[str, int]] = []
    body = list(ast.parse(path.read_text(), str(path)).body)
    while body:
        node = body.pop(0)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.append((node.name, node.lineno))
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names += [(t.id, node.lineno) for t in targets if isinstance(t, ast.Name) and _is_constant_name(t.id)]
        elif isinstance(node, ast.If | ast.Try):
            body.extend(node.body + node.orelse + getattr(node, "finalbody", []))
            for handler in getattr(node, "handlers", []):
                body.extend(handler.body)
    return names


# ---------------------------------------------------------------------------------------------


def test_every_module_has_a_layer() -> None:
    unplaced = sorted(name for name in modules() if layer_of(name) is None)
    assert not unplaced, f"give these modules a layer in LAYERS: {unplaced}"


def test_the_graph_sees_lazy_relative_and_package_imports(tmp_path: Path) -> None:
    # The checks below are only as good as the graph: it must hold every kind of import.
    module = tmp_path / "planner.py"
    module.write_text(
        "from bqsynth.gcp import sql\n"
        "from . import relationships\n"
        "def plan():\n"
        "    from bqsynth.generation.recipe import compile_recipe\n"
    )
    known = {"bqsynth.gcp", "bqsynth.gcp.sql", "bqsynth.planning.relationships", "bqsynth.generation"}
    known |= {"bqsynth.generation.recipe"}
    found = {(i.imported, i.line, i.implied) for i in imports_of("bqsynth.planning.planner", module, known)}
    assert found == {
        ("bqsynth.gcp.sql", 1, False),  # from a package, a module
        ("bqsynth.gcp", 1, True),  # the package's __init__ runs first
        ("bqsynth.planning.relationships", 2, False),  # relative
        ("bqsynth.generation.recipe", 4, False),  # lazy, inside a function
        ("bqsynth.generation", 4, True),
    }
    _, edges = import_graph()
    assert ("bqsynth.llm.advise", "bqsynth.llm.base") in {(i.importer, i.imported) for i in edges}


def test_no_import_circles() -> None:
    _, found = import_graph()
    edges: dict[str, set[str]] = defaultdict(set)
    for i in found:
        edges[i.importer].add(i.imported)
    circles = cycles(edges)
    assert not circles, "import circles:\n" + "\n".join("  " + " -> ".join(c) for c in circles)


def test_no_import_climbs_to_a_higher_layer() -> None:
    paths, found = import_graph()
    root = PACKAGE_DIR.parent
    climbs = []
    for i in found:
        low, high = layer_of(i.importer), layer_of(i.imported)
        # The package __init__ an import runs lies in the same layer as the module imported.
        if i.implied or low is None or high is None or high <= low:
            continue
        climbs.append(
            f"  {paths[i.importer].relative_to(root)}:{i.line} {i.importer} (layer {LAYER_NAMES[low]}) "
            f"imports {i.imported} (layer {LAYER_NAMES[high]})"
        )
    assert not climbs, "imports from a lower layer to a higher one:\n" + "\n".join(sorted(set(climbs)))


def test_no_top_level_name_is_defined_in_two_modules() -> None:
    root = PACKAGE_DIR.parent
    places: dict[str, list[str]] = defaultdict(list)
    for path in modules().values():
        for name, line in top_level_definitions(path):
            places[name].append(f"{path.relative_to(root)}:{line}")
    twice = {name: where for name, where in places.items() if len(where) > 1 and name not in SHARED_NAMES_ALLOWED}
    assert not twice, "defined in more than one module (keep one, or rename to say what each is):\n" + "\n".join(
        f"  {name}: {', '.join(where)}" for name, where in sorted(twice.items())
    )
