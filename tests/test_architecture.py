"""The shape of the package: folders are floors, imports flow down, no cycles, functions fit a screen.

``ls geodln`` shows the architecture: each folder is one floor and may import
only from the floors below it (and from its own modules); the two top-level
modules, ``errors`` and ``tolerances``, are the ground floor every folder may
use. ``integrate`` is pure ODE numerics and imports nothing from geodln. The
imports read here are all of them: relative and absolute, at module level and
inside functions (lazy imports), except those only for type checkers.
"""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1] / "geodln"

# Floors, lowest first: a folder may import only from its own floor or lower ones.
FLOORS = [
    {"errors", "tolerances"},
    {"network"},
    {"io"},
    {"symmetry", "integrate"},
    {"dynamics"},
    {"geometry", "laws"},
    {"landscape"},
    {"catalog"},
    {"sweeps"},
    {"plots"},
    {"cli"},
]
FLOOR = {name: level for level, names in enumerate(FLOORS) for name in names}
# Folders that import nothing from geodln (the integrator is generic ODE numerics).
SELF_CONTAINED = {"integrate"}
# The longest function body (docstring excluded) a reader should meet: one screen.
MAX_FUNCTION_LINES = 80


def _modules():
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        yield path, parts


def _module_name(parts):
    """Dotted name (below geodln) of a module file's parts; a package's __init__ is the package."""
    return ".".join(parts[:-1] if parts[-1] in ("__init__", "__main__") else parts)


def _type_checking_lines(tree):
    """Line numbers inside ``if TYPE_CHECKING:`` blocks (imports there never run)."""
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, child.end_lineno + 1))
    return lines


def _imports(path, parts):
    """Dotted names below geodln of every geodln module a file imports (relative, absolute, lazy)."""
    package = list(parts[:-1])
    tree = ast.parse(path.read_text())
    skip = _type_checking_lines(tree)
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
            elif node.module and node.module.split(".")[0] == "geodln":
                base = []
            else:
                continue
            module = node.module.split(".") if node.module else []
            if not node.level:
                module = module[1:]
            target = base + module
            if target:
                yield ".".join(target)
            else:  # from . import a, b: the names are modules
                yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "geodln" and alias.name != "geodln":
                    yield alias.name.split(".", 1)[1]


def _known(name):
    """The module a dotted import target names (an imported name is dropped to its module)."""
    names = {_module_name(parts) for _, parts in _modules()}
    while name and name not in names:
        name = name.rpartition(".")[0]
    return name


MODULES = list(_modules())
IDS = ["/".join(parts) for _, parts in MODULES]


def test_every_folder_and_top_module_has_a_floor():
    tops = {parts[0] for _, parts in MODULES if parts[0] != "__init__"}
    assert tops == set(FLOOR), "add new folders to FLOORS"
    loose = {parts[0] for _, parts in MODULES if len(parts) == 1} - {"__init__"}
    assert loose == FLOORS[0], "modules belong in a folder (a floor); only the ground floor is loose"


@pytest.mark.parametrize("path, parts", MODULES, ids=IDS)
def test_no_module_imports_a_higher_floor(path, parts):
    if parts == ("__init__",):
        return  # the public API re-exports from every floor
    here = FLOOR[parts[0]]
    targets = {_known(name).split(".")[0] for name in _imports(path, parts)}
    higher = {name for name in targets if name != parts[0] and FLOOR[name] > here}
    assert not higher, f"{'/'.join(parts)} (floor {here}) imports {sorted(higher)} from higher floors"
    if parts[0] in SELF_CONTAINED:
        foreign = targets - {parts[0]}
        assert not foreign, f"{'/'.join(parts)} must import nothing from geodln, imports {sorted(foreign)}"


def test_no_import_cycles():
    """Module-level and lazy imports alike: the graph of geodln modules is acyclic."""
    graph = {}
    for path, parts in MODULES:
        me = _module_name(parts)
        graph.setdefault(me, set()).update(t for t in map(_known, _imports(path, parts))
                                           if t and t != me and not me.startswith(t + "."))
    state = {}

    def visit(node, stack):
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                cycle = stack[stack.index(nxt):] + [nxt] if nxt in stack else [node, nxt]
                raise AssertionError(f"import cycle: {' -> '.join(cycle)}")
            if nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])


def _function_lengths(path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            has_doc = isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant)
            start = body[1].lineno if has_doc and len(body) > 1 else body[0].lineno
            yield node.name, node.end_lineno - start + 1


@pytest.mark.parametrize("path, parts", MODULES, ids=IDS)
def test_functions_fit_a_screen(path, parts):
    long = {name: n for name, n in _function_lengths(path) if n > MAX_FUNCTION_LINES}
    assert not long, f"{'/'.join(parts)}: functions longer than {MAX_FUNCTION_LINES} lines: {long}"


def test_the_architecture_test_reads_every_kind_of_import(tmp_path):
    """Relative, absolute and lazy imports are all seen (a test that cannot fail is a defect)."""
    source = tmp_path / "probe.py"
    source.write_text("from ..dynamics.flow import GradientFlow\nimport geodln.cli.main\n"
                      "def f():\n    from geodln.plots import style\n    from .. import sweeps\n")
    assert set(_imports(source, ("network", "probe"))) == {"dynamics.flow", "cli.main", "plots", "sweeps"}


def test_each_idea_has_one_home():
    """No dense inverse of a group element (symmetry.act works block by block), one ODE solver call
    (the integrator registry), one Haar sign fix (network.data.random_orthogonal)."""
    sources = {"/".join(parts): path.read_text() for path, parts in MODULES}
    assert [name for name, text in sources.items() if "linalg.inv(" in text] == []
    assert [name for name, text in sources.items() if "solve_ivp(" in text] == ["integrate/methods"]
    assert [name for name, text in sources.items() if "linalg.qr(rng" in text] == ["network/data"]
