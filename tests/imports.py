"""What a Python file imports, read from its syntax tree (never run): the layer rules of
tests/hermod_core/test_layers.py and the layout rules of tests/test_layout.py check these."""

import ast
from pathlib import Path


def imported_names(path: Path) -> set[str]:
    """Every module ``path`` imports, and each ``module.name`` it imports from one (absolute
    imports only; the code has no relative ones)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names
