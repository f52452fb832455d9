"""The import rules of STYLE.md, checked by walking every module of the package with ``ast``.

Imports point down: cli -> tasks/sweep -> scale/io/plots -> online -> grad -> parallel -> core
-> data. Every import counts (module level and inside functions); the cycle check uses
module-level imports only, since a function-level import runs after both modules have loaded.
"""
from __future__ import annotations

import ast
from pathlib import Path

import jaxrnn

PACKAGE = Path(jaxrnn.__file__).parent
CORE = {"cells", "initializers", "unroll", "rnn_backward", "cudnn_lstm", "losses", "model",
        "optim", "train"}
UPPER = ("io", "plots", "scale", "tasks", "sweep", "cli")


def _module_name(path: Path) -> str:
    parts = ("jaxrnn",) + path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")[: len(module.split(".")) - node.level + is_package]
    return ".".join(base + ([node.module] if node.module else []))


def _targets(module: str, is_package: bool, node, modules: set) -> list:
    """The jaxrnn modules one import statement names (``from a import b`` -> a.b when a module)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.split(".")[0] == "jaxrnn"]
    base = _resolve(module, is_package, node)
    if base.split(".")[0] != "jaxrnn":
        return []
    return [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]


def _imports():
    """{module: [(target, top_level, line)]} over every .py file of the package."""
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    found = {}
    for module, path in files.items():
        tree = ast.parse(path.read_text(), str(path))
        top = {id(n) for n in tree.body}
        is_package = path.name == "__init__.py"
        imports = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
        found[module] = [(t, id(node) in top, node.lineno) for node in imports
                         for t in _targets(module, is_package, node, set(files))]
    return found


IMPORTS = _imports()


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _is_core(module: str) -> bool:
    return _layer(module) in CORE or _layer(module) in ("grad", "online", "parallel")


def _allowed(module: str, target: str) -> str | None:
    """None when ``module`` may import ``target``, else the rule it breaks."""
    src, dst = _layer(module), _layer(target)
    if dst == "cli" and src != "cli":
        return "only cli imports cli"
    if _is_core(module) and dst in UPPER:
        return "the core, parallel/, grad/ and online/ never import io, plots, scale, tasks, " \
            "sweep or cli"
    if _is_core(module) and src != "online" and dst == "online":
        return "the core and grad/ never import online/ (online/ sits above grad/)"
    if src in CORE and dst in ("grad", "parallel"):
        return "the core never imports grad/ or parallel/"
    if src == "parallel" and dst == "grad":
        return "parallel/ sits below grad/ (grad may import parallel, not the reverse)"
    if src == "data" and dst != "data":
        return "data/ imports nothing of jaxrnn outside data/"
    if src == "plots" and dst not in ("plots", "io"):
        return "plots/ imports only plots/ and io/"
    if src == "scale" and dst not in ("scale", "io"):
        return "scale/ imports only scale/ and io/ (placement and start-up, no training)"
    if src == "io" and dst != "io" and target != "jaxrnn":
        return "io/ imports only io/ (and the package's __version__)"
    return None


def test_the_walk_sees_the_package():
    assert {"jaxrnn.cells", "jaxrnn.grad.diagnostics", "jaxrnn.cli.main"} <= set(IMPORTS)
    assert any(t == "jaxrnn.cells" and top for t, top, _ in IMPORTS["jaxrnn.unroll"])
    assert any(t == "jaxrnn.io.config" for t, _, _ in IMPORTS["jaxrnn.cli.main"])


def test_imports_point_down():
    broken = sorted({f"{module}:{line} imports {target} ({rule})"
                     for module, targets in IMPORTS.items()
                     for target, _, line in targets
                     if (rule := _allowed(module, target))})
    assert not broken, "import rules broken:\n" + "\n".join(broken)


def _cycle_from(start, graph, path, done):
    """A cycle reachable from ``start`` as a list of modules, or None (depth-first search)."""
    if start in path:
        return path[path.index(start):] + [start]
    if start in done:
        return None
    done.add(start)
    for target in sorted(graph.get(start, ())):
        cycle = _cycle_from(target, graph, path + [start], done)
        if cycle:
            return cycle
    return None


def test_no_import_cycles():
    graph = {m: {t for t, top, _ in targets if top and t != m} for m, targets in IMPORTS.items()}
    done = set()
    for module in sorted(graph):
        cycle = _cycle_from(module, graph, [], done)
        assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_a_cycle_and_a_broken_rule_are_caught():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}}
    assert _cycle_from("a", graph, [], set()) == ["a", "b", "c", "a"]
    assert _allowed("jaxrnn.grad.diagnostics", "jaxrnn.plots.common")
    assert _allowed("jaxrnn.plots.sweep", "jaxrnn.sweep.report")
    assert _allowed("jaxrnn.data.text", "jaxrnn.cells")
    assert _allowed("jaxrnn.io.runs", "jaxrnn.cells")
    assert _allowed("jaxrnn.tasks.demo", "jaxrnn.cli.main")
    assert _allowed("jaxrnn.scale.mesh", "jaxrnn.tasks.char.main")
    assert _allowed("jaxrnn.train", "jaxrnn.scale.mesh")
    assert _allowed("jaxrnn.tasks.char.parallel", "jaxrnn.scale.mesh") is None
    assert _allowed("jaxrnn.grad.gradcheck", "jaxrnn.online.rtrl")
    assert _allowed("jaxrnn.online.rtrl", "jaxrnn.io.runs")
    assert _allowed("jaxrnn.online.compare", "jaxrnn.grad.gradcheck") is None
    assert _allowed("jaxrnn.parallel.solve", "jaxrnn.grad.methods")
    assert _allowed("jaxrnn.parallel.solve", "jaxrnn.io.runs")
    assert _allowed("jaxrnn.unroll", "jaxrnn.parallel.solve")
    assert _allowed("jaxrnn.grad.implicit", "jaxrnn.parallel") is None
    assert _allowed("jaxrnn.io.runs", "jaxrnn") is None
    assert _allowed("jaxrnn.tasks.demo", "jaxrnn.plots.common") is None
