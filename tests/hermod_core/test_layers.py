"""The layers of docs/STYLE.md point one way: pure code imports no Django and no model, models
know no service, selectors read without importing services, and nothing in the domain imports
the web layers (API views, the console)."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PURE = ("hermod_core/protocol", "hermod_core/crypto", "hermod_core/lifecycle.py")
WEB = ("hermod_core.api", "portal")

# layer (files) -> module prefixes it must never import
RULES: dict[tuple[str, ...], tuple[str, ...]] = {
    PURE: (
        "django",
        "rest_framework",
        "hermod_core.models",
        "hermod_core.services",
        "hermod_core.selectors",
        "hermod_core.tasks",
        *WEB,
    ),
    ("hermod_core/models",): ("hermod_core.services", "hermod_core.selectors", *WEB),
    ("hermod_core/selectors",): ("hermod_core.services", "hermod_core.tasks", *WEB),
    ("hermod_core/services",): WEB,
}


def _files(places: tuple[str, ...]) -> list[Path]:
    found: list[Path] = []
    for place in places:
        path = ROOT / place
        found.extend([path] if path.suffix == ".py" else sorted(path.rglob("*.py")))
    return found


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _forbidden(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == prefix or name.startswith(f"{prefix}.") for prefix in prefixes)


@pytest.mark.parametrize("places", list(RULES), ids=lambda places: "+".join(places))
def test_a_layer_imports_nothing_it_must_not(places: tuple[str, ...]) -> None:
    wrong = sorted(
        f"{path.relative_to(ROOT)} imports {name}"
        for path in _files(places)
        for name in _imports(path)
        if _forbidden(name, RULES[places])
    )
    assert wrong == []


def test_the_check_sees_a_forbidden_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("from hermod_core.services.credentials import seal\nimport django.db\n")
    assert {"hermod_core.services.credentials", "django.db"} <= _imports(module)
    assert _forbidden("hermod_core.services.credentials", RULES[("hermod_core/selectors",)])
    assert not _forbidden("hermod_core.servicesx", ("hermod_core.services",))


def test_who_acts_is_passed_to_the_services_never_read_from_the_context() -> None:
    """One ``Actor`` (``services.audit``) goes to every service that audits; no service or
    console module takes it from a context variable (the old ``acting_as``)."""
    places = ("hermod_core/services", "hermod_core/selectors", "hermod_core/api", "portal")
    wrong = sorted(
        f"{path.relative_to(ROOT)} uses {word}"
        for path in _files(places)
        for word in ("ContextVar", "contextvars", "acting_as")
        if word in path.read_text()
    )
    assert wrong == []
