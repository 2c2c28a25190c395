"""The GUI's modules import each other without cycles (TYPE_CHECKING imports count too)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, known: set[str]) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        found |= {n for n in names if n in known}
    return found


def test_gui_modules_form_no_import_cycle() -> None:
    files = {_module(p): p for p in (ROOT / "gui").rglob("*.py")}
    graph = {name: _imports(path, set(files)) - {name} for name, path in files.items()}
    # A package's __init__ may gather its own modules; the edges that matter run between modules.
    for name in graph:
        graph[name] = {d for d in graph[name] if not (name.startswith(d + ".") and d in files)}
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        for dep in graph[node]:
            if dep in path:
                cycles.append([*path[path.index(dep) :], dep])
            elif len(path) < 30:
                visit(dep, [*path, dep])

    for start in graph:
        visit(start, [start])
    assert cycles == []


def test_the_old_hub_is_gone() -> None:
    assert not (ROOT / "gui" / "app_state.py").exists()
    sizes = {
        p.name: len(p.read_text(encoding="utf-8").splitlines()) for p in (ROOT / "gui" / "state").glob("*.py")
    }
    assert max(sizes.values()) < 450, sizes
