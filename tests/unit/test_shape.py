"""The package's shape: folders are layers that import only downward, and no piece grows past a reader's view.

The limits are the house's: a function a screen long (60 lines), a class of
150, a module of 300. A piece past them is split along a seam, not squeezed.
"""

import ast
from pathlib import Path

import pytest

import wsgi_service

PACKAGE = Path(wsgi_service.__file__).parent
# Each layer may import only the layers after it in this order (and itself).
LAYERS = ("factory", "edge", "serving", "enforcement", "model", "operations", "errors")
LIMITS = {"function": 60, "class": 150, "module": 300}
MODULES = sorted(PACKAGE.rglob("*.py"))


def layer_of(module: str) -> str | None:
    """``wsgi_service.edge.app`` is in ``edge``; the package's own ``__init__``/``__main__`` sit above all."""
    parts = module.split(".")
    if parts[0] != "wsgi_service" or len(parts) == 1 or parts[1] in ("__init__", "__main__"):
        return None
    return parts[1]


def imported(tree: ast.Module) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


@pytest.mark.parametrize("path", MODULES, ids=lambda path: str(path.relative_to(PACKAGE)))
def test_no_import_runs_up_the_layers(path):
    module = ".".join(("wsgi_service", *path.relative_to(PACKAGE).with_suffix("").parts))
    own = layer_of(module)
    if own is None:
        return
    upward = [name for name in imported(ast.parse(path.read_text(encoding="utf-8")))
              if layer_of(name) is not None and LAYERS.index(layer_of(name)) < LAYERS.index(own)]
    assert not upward, f"{module} ({own}) imports the layers above it: {upward}"


@pytest.mark.parametrize("path", MODULES, ids=lambda path: str(path.relative_to(PACKAGE)))
def test_every_piece_fits_its_limit(path):
    source = path.read_text(encoding="utf-8")
    over = [f"module: {len(source.splitlines())} lines"] if len(source.splitlines()) > LIMITS["module"] else []
    for node in ast.walk(ast.parse(source)):
        kind = ("function" if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) else
                "class" if isinstance(node, ast.ClassDef) else None)
        if kind and node.end_lineno - node.lineno + 1 > LIMITS[kind]:
            over.append(f"{kind} {node.name}: {node.end_lineno - node.lineno + 1} lines (limit {LIMITS[kind]})")
    assert not over, f"{path.relative_to(PACKAGE)} is past the house's limits: {over}"
