"""The shape of the package: imports flow one way, each idea has one home, modules stay small."""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1] / "geodln"

# Floors, lowest first: a module may import only from its own floor or lower ones.
FLOORS = [
    {"errors", "files", "progress", "tolerances", "topology", "weights"},
    {"data", "graph_files"},
    {"losses", "symmetry", "integrate"},
    {"flow", "hessian_product", "strata", "readout"},
    {"hessian", "init", "laws"},
    {"landscape", "points", "counting"},
    {"saddles", "itinerary"},
    {"catalog", "geometry", "sweeps", "verification"},
    {"plots"},
    {"cli"},
]
FLOOR = {name: level for level, names in enumerate(FLOORS) for name in names}


def _modules():
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        yield path, parts


def _imports(path, parts):
    """Top-level geodln modules imported by a file (relative imports, including lazy ones)."""
    package = list(parts[:-1])
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - (node.level - 1)]
            target = base + (node.module.split(".") if node.module else [])
            yield from ([target[0]] if target else [alias.name for alias in node.names])


def test_every_module_has_a_floor():
    tops = {parts[0] for _, parts in _modules() if parts[0] != "__init__"}
    assert tops == set(FLOOR), "add new modules to FLOORS"


@pytest.mark.parametrize("path, parts", list(_modules()), ids=lambda x: "/".join(x) if isinstance(x, tuple) else "")
def test_no_module_imports_a_higher_one(path, parts):
    if parts[0] == "__init__":
        return  # the public API re-exports from every floor
    here = FLOOR[parts[0]]
    higher = {name for name in _imports(path, parts) if name != parts[0] and FLOOR[name] > here}
    assert not higher, f"{'/'.join(parts)} (floor {here}) imports {sorted(higher)} from higher floors"


@pytest.mark.parametrize("path, parts", list(_modules()), ids=lambda x: "/".join(x) if isinstance(x, tuple) else "")
def test_modules_stay_small(path, parts):
    n_lines = len(path.read_text().splitlines())
    assert n_lines <= 600, f"{'/'.join(parts)} has {n_lines} lines: split it by idea"


def test_each_idea_has_one_home():
    """No dense inverse of a group element (symmetry.act works block by block), one ODE solver call
    (GradientFlow.solve), one Haar sign fix (data.random_orthogonal)."""
    sources = {"/".join(parts): path.read_text() for path, parts in _modules()}
    assert [name for name, text in sources.items() if "linalg.inv(" in text] == []
    assert [name for name, text in sources.items() if "solve_ivp(" in text] == ["flow"]
    assert [name for name, text in sources.items() if "linalg.qr(rng" in text] == ["data"]
