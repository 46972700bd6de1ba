"""The architecture README's "Packages" section draws: imports only go down the layers, no
import circles, and no project import hidden inside a function (where a circle would hide)."""
import ast
from pathlib import Path

from tests.conftest import ROOT

# Layer of each package (a module may import its own package and any lower layer).
LAYERS = {"envs": 0, "networks": 0, "search": 1, "agent": 2,  # agent.config, agent.objectives
          "agent.algorithm": 3, "agent.host": 4, "agent.tools": 5, "train": 6, "benchmarks": 6}
PROJECT = ("envs", "networks", "search", "agent", "benchmarks", "train")


def modules() -> dict[str, Path]:
    found = {"train": ROOT / "train.py"}
    for package in ("envs", "networks", "search", "agent", "benchmarks"):
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def group(module: str) -> str:
    """The LAYERS key a module belongs to (its longest matching prefix)."""
    return max((k for k in LAYERS if module == k or module.startswith(k + ".")), key=len)


def imports(path: Path) -> list[tuple[str, bool]]:
    """(imported project module, imported inside a function?) for every import in a file."""
    tree = ast.parse(path.read_text())
    found = []

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                found.extend((a.name, in_function) for a in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                found.append((child.module, in_function))
                found.extend((f"{child.module}.{a.name}", in_function) for a in child.names)
            visit(child, inner)

    visit(tree, False)
    return [(name, deferred) for name, deferred in found if name.split(".")[0] in PROJECT]


def resolve(name: str, known: dict) -> str | None:
    """The project module an import names (`from agent.config import X` -> agent.config)."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def test_imports_only_go_down_the_layers():
    known = modules()
    wrong = []
    for module, path in known.items():
        source = group(module)
        for name, _ in imports(path):
            target = resolve(name, known)
            if target is None:
                continue
            into = group(target)
            if into != source and LAYERS[into] >= LAYERS[source]:
                wrong.append(f"{module} (layer {LAYERS[source]}) imports {target} (layer {LAYERS[into]})")
    assert not wrong, "\n".join(wrong)


# Modules that defer imports on purpose, and why (none can hide a circle: nothing imports them).
DEFERRED_ON_PURPOSE = {
    "train": "the entry point: jax.distributed must start before importing envs (gymnax) starts XLA",
}


def test_no_project_import_inside_a_function():
    deferred = [f"{module}: {name}" for module, path in modules().items()
                for name, inside in imports(path) if inside and module not in DEFERRED_ON_PURPOSE]
    assert not deferred, "imports deferred into functions (a circle hides there):\n" + "\n".join(deferred)


def test_no_import_circles():
    known = modules()
    graph = {m: {t for name, _ in imports(p) if (t := resolve(name, known)) and t != m and not m.startswith(t + ".")}
             for m, p in known.items()}
    state, stack, circles = {}, [], []

    def walk(m):
        state[m] = "open"
        stack.append(m)
        for t in graph[m]:
            if state.get(t) == "open":
                circles.append(" -> ".join(stack[stack.index(t):] + [t]))
            elif t not in state:
                walk(t)
        stack.pop()
        state[m] = "done"

    for m in graph:
        if m not in state:
            walk(m)
    assert not circles, "\n".join(circles)
