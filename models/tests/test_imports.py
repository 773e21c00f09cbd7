"""The training package's modules import each other without a circle (also counting imports inside functions,
which only hide a circle until a call order triggers it)."""
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "pwtrain"


def local_imports(path: Path) -> set[str]:
    """Names of pwtrain modules that `path` imports anywhere in its body (`from .x import ...`)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            names.update([node.module] if node.module else [alias.name for alias in node.names])
    return names - {"set_threads"}


def test_no_import_circle():
    graph = {path.stem: local_imports(path) for path in PACKAGE.glob("*.py") if path.stem != "__init__"}
    state: dict[str, str] = {}

    def visit(module: str, trail: list[str]) -> None:
        if state.get(module) == "done":
            return
        assert state.get(module) != "open", "import circle: " + " -> ".join(trail + [module])
        state[module] = "open"
        for dependency in sorted(graph.get(module, ())):
            visit(dependency, trail + [module])
        state[module] = "done"

    for module in sorted(graph):
        visit(module, [])
    assert {"train", "evaluate", "export", "checkpoint"} <= graph.keys()
