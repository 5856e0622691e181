"""The package's layering rule, checked on the source: each module imports only from the layers
before its own, and no module imports another module's private names.

The layers, in order (see the README's "Layout"): core, serving, measuring, pictures, display,
cli. A module-level import of a later layer fails this test. Imports inside a function are the
documented way up (``Trace.to_svg`` drawing with the pictures, ``probe(live=True)`` opening a
live view, ``Server.get`` running the probe); they are allowed only where listed in ``LAZY_UP``,
so a new one is a decision someone made, not an accident.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "streamkit"

LAYERS = {
    "core": ["app", "context", "response", "templating", "compression"],
    "serving": ["server", "access", "backends", "recording", "recording_asgi", "programs"],
    "measuring": [
        "events",
        "http1",
        "client",
        "probe",
        "trace",
        "traced",
        "finding",
        "measurements",
        "products",
        "rules",
        "diagnosis",
        "doctor",
        "reader",
        "reader_worker",
        "browser",
        "tracefile",
    ],
    "pictures": ["lanes", "timeline", "text_timeline"],
    "display": ["display", "testing", "report"],
    "cli": ["cli", "__main__"],
}
ORDER = list(LAYERS)
# Outside the layers: the package's front door, the teaching material and the demo app may
# import anything.
UNLAYERED = {"__init__", "exercises", "demos"}

# (module, imported module) pairs that may go up a layer, inside a function only.
LAZY_UP = {
    ("trace", "timeline"),
    ("trace", "display"),
    ("trace", "diagnosis"),
    ("timeline", "display"),
    ("probe", "display"),
    ("traced", "display"),
    ("server", "traced"),
    ("server", "display"),
    ("diagnosis", "timeline"),
    ("diagnosis", "display"),
}


def layer_of(top: str) -> str | None:
    for layer, modules in LAYERS.items():
        if top in modules:
            return layer
    return None


def modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def top_name(path: Path) -> str:
    """``streamkit/backends/nginx.py`` -> ``backends``; ``streamkit/trace.py`` -> ``trace``."""
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def imported(path: Path, node: ast.ImportFrom | ast.Import) -> list[tuple[str, list[str]]]:
    """(top-level streamkit module, names) for each streamkit import in ``node``."""
    relative = path.relative_to(PACKAGE).with_suffix("").parts  # ("backends", "nginx")
    found = []
    if isinstance(node, ast.Import):
        for alias in node.names:
            parts = alias.name.split(".")
            if parts[0] == "streamkit" and len(parts) > 1:
                found.append((parts[1], []))
        return found
    names = [alias.name for alias in node.names]
    if node.level:
        base = list(relative[: len(relative) - node.level])
        target = base + (node.module.split(".") if node.module else [])
    elif node.module and node.module.split(".")[0] == "streamkit":
        target = node.module.split(".")[1:]
    else:
        return []
    if target:
        found.append((target[0], names))
    else:  # "from . import x" in a top-level module: x is a module, or a name in __init__
        for name in names:
            is_module = (PACKAGE / f"{name}.py").exists() or (PACKAGE / name).is_dir()
            found.append((name, []) if is_module else ("__init__", [name]))
    return found


def import_nodes(tree: ast.Module) -> list[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Every import with whether it sits inside a function (a lazy import)."""
    out: list[tuple[ast.Import | ast.ImportFrom, bool]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                out.append((child, in_function))
            lazy = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            # Imports under "if TYPE_CHECKING:" never run: they are for mypy only.
            if isinstance(child, ast.If) and getattr(child.test, "id", None) == "TYPE_CHECKING":
                continue
            visit(child, lazy)

    visit(tree, False)
    return out


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_follow_the_layers(path: Path) -> None:
    own = top_name(path)
    if own in UNLAYERED:
        return
    own_layer = layer_of(own)
    assert own_layer is not None, f"{own} is in no layer: add it to the README's Layout and to LAYERS here"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node, lazy in import_nodes(tree):
        for target, _ in imported(path, node):
            if target == own:
                continue
            if target in UNLAYERED:
                # Only the command line may use the front door and the demo app; no layer
                # leans on teaching code.
                assert own_layer == "cli" and target in ("demos", "__init__"), f"{path.name} imports {target}"
                continue
            target_layer = layer_of(target)
            assert target_layer is not None, f"{path.name} imports {target}, which is in no layer"
            if ORDER.index(target_layer) <= ORDER.index(own_layer):
                continue
            assert lazy and (own, target) in LAZY_UP, (
                f"{path.relative_to(PACKAGE)} line {node.lineno} imports {target} ({target_layer}) "
                f"from the {own_layer} layer" + ("" if lazy else " at module level")
            )


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_private_names_are_imported_from_other_modules(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node, _ in import_nodes(tree):
        if not isinstance(node, ast.ImportFrom):
            continue
        for alias in node.names:
            name = alias.name
            private = name.startswith("_") and not (name.startswith("__") and name.endswith("__"))
            assert not private, f"{path.relative_to(PACKAGE)} line {node.lineno} imports private {name}"


def test_every_module_says_what_it_is_for() -> None:
    missing = [
        str(path.relative_to(PACKAGE))
        for path in modules()
        if not ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert missing == []
