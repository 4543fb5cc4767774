"""The rules the package's layout keeps (docs/ARCHITECTURE.md, "Rules"). Each reads the source with `ast`
(nothing is imported), so a new import that breaks one fails here with the file and the line.

Imports inside a function count as much as those at the top of a file: a lazy import still runs."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "ganterm"
MAX_LINES = 500


def _module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


SOURCES = {_module_name(p): p for p in sorted(PKG.rglob("*.py"))}


def _imports(path: Path) -> Iterator[tuple[int, str, list[str]]]:
    """(line, module, names) for every import in the file; `from . import x` resolved."""
    tree = ast.parse(path.read_text(), str(path))
    me = _module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    for node in _walk_runtime(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, []
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                mod = ".".join([*base, mod] if mod else base)
            yield node.lineno, mod, [a.name for a in node.names]


def _walk_runtime(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node but those under `if TYPE_CHECKING:` (imports for annotations never run)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from (n for child in node.orelse for n in _walk_runtime(child))
            continue
        yield node
        yield from _walk_runtime(node)


def _targets(mod: str, names: list[str]) -> list[str]:
    """The ganterm modules an import reaches (`from ganterm.x import y` reaches ganterm.x.y if y is one)."""
    out = [mod] if mod in SOURCES else []
    out += [f"{mod}.{n}" for n in names if f"{mod}.{n}" in SOURCES]
    return out


def _violations(sources: list[str], forbidden: tuple[str, ...]) -> list[str]:
    bad = []
    for name in sources:
        for line, mod, names in _imports(SOURCES[name]):
            for target in [mod, *[f"{mod}.{n}" for n in names]]:
                if any(target == f or target.startswith(f + ".") for f in forbidden):
                    bad.append(f"{SOURCES[name].relative_to(PKG.parent)}:{line} imports {target}")
                    break
    return bad


def _in(*packages: str) -> list[str]:
    return [m for m in SOURCES if any(m == p or m.startswith(p + ".") for p in packages)]


TORCH_SIDE = ("torch", "ganterm.training", "ganterm.algos", "ganterm.models", "ganterm.fitting")
UI = ("textual", "rich", "plotext", "ganterm.tui", "ganterm.render")


def test_the_library_never_imports_the_cli():
    library = [m for m in SOURCES if not m.startswith("ganterm.cli") and m != "ganterm.__main__"]
    assert _violations(library, ("ganterm.cli",)) == []


def test_the_trainer_side_imports_no_ui_and_no_evaluation():
    """The loop is handed its evaluator; it draws nothing."""
    trainer_side = _in("ganterm.training", "ganterm.algos", "ganterm.models")
    assert _violations(trainer_side, (*UI, "ganterm.eval", "ganterm.session")) == []


def test_channel_and_rundir_are_torch_and_textual_free():
    """The viewer reads run directories and feeds without torch (~1 s) or a screen."""
    assert _violations(_in("ganterm.channel", "ganterm.rundir"), (*TORCH_SIDE, *UI)) == []


def test_render_takes_arrays():
    """render/ turns arrays into Rich renderables; it knows no feed, history or run."""
    allowed = {"ganterm.render", "ganterm.errors"}
    bad = []
    for name in _in("ganterm.render"):
        for line, mod, _ in _imports(SOURCES[name]):
            if mod.startswith("ganterm") and not any(mod == a or mod.startswith(a + ".") for a in allowed):
                bad.append(f"{name}:{line} imports {mod}")
    assert bad == []


def test_a_screen_never_imports_another_screen():
    """Screens share adapters through a module (tui/adapters), never through each other."""
    bad = []
    for name in _in("ganterm.tui.screens"):
        for line, mod, names in _imports(SOURCES[name]):
            for target in _targets(mod, names):
                if target.startswith("ganterm.tui.screens.") and target != name:
                    bad.append(f"{name}:{line} imports {target}")
    assert bad == []


def test_no_private_name_crosses_a_module():
    bad = []
    for name, path in SOURCES.items():
        for line, mod, names in _imports(path):
            if mod.startswith("ganterm"):
                private = [n for n in names if n.startswith("_") and not n.startswith("__")]
                bad += [f"{name}:{line} imports {mod}.{n}" for n in private]
    assert bad == []


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {m: set() for m in SOURCES}
    for name, path in SOURCES.items():
        for _, mod, names in _imports(path):
            for target in _targets(mod, names):
                if target != name and not name.startswith(target + "."):  # a package's own __init__
                    graph[name].add(target)
    return graph


def test_no_import_cycles():
    graph, cycles = _graph(), []
    state: dict[str, int] = {}  # 1: on the path, 2: done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*path[path.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert cycles == []


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_no_source_file_over_500_lines(name: str):
    n = len(SOURCES[name].read_text().splitlines())
    assert n <= MAX_LINES, f"{SOURCES[name].relative_to(PKG.parent)} has {n} lines"


def test_the_rules_can_fail(tmp_path, monkeypatch):
    """The checks above see a breach when there is one (a private import, a cycle)."""
    a, b = tmp_path / "ganterm" / "a.py", tmp_path / "ganterm" / "b.py"
    a.parent.mkdir()
    a.write_text("from ganterm.b import _secret\n")
    b.write_text("import ganterm.a\n")
    monkeypatch.setattr(__import__(__name__), "PKG", tmp_path / "ganterm", raising=False)
    fake = {"ganterm.a": a, "ganterm.b": b}
    monkeypatch.setattr(f"{__name__}.SOURCES", fake)
    monkeypatch.setattr(f"{__name__}.PKG", tmp_path / "ganterm")
    with pytest.raises(AssertionError):
        test_no_private_name_crosses_a_module()
    with pytest.raises(AssertionError):
        test_no_import_cycles()
