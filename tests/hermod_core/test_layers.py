"""The layers of docs/STYLE.md point one way: pure code imports no Django and no model, models
know no service, selectors read without importing services (and call no writing method), and
nothing in the domain imports the web layers (API views, the console)."""

import ast
from pathlib import Path

import pytest

from tests.imports import imported_names

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


def _forbidden(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == prefix or name.startswith(f"{prefix}.") for prefix in prefixes)


@pytest.mark.parametrize("places", list(RULES), ids=lambda places: "+".join(places))
def test_a_layer_imports_nothing_it_must_not(places: tuple[str, ...]) -> None:
    wrong = sorted(
        f"{path.relative_to(ROOT)} imports {name}"
        for path in _files(places)
        for name in imported_names(path)
        if _forbidden(name, RULES[places])
    )
    assert wrong == []


# Methods that write rows (querysets, managers, model instances, the tuned writes of sql.py).
WRITES = frozenset(
    {
        "save",
        "delete",
        "update",
        "create",
        "bulk_create",
        "bulk_update",
        "get_or_create",
        "update_or_create",
        "tally_add",
        "callback_claim",
    }
)


def _writing_calls(path: Path) -> set[str]:
    """Each call of a writing method in the module, as ``line: .name()``."""
    return {
        f"{node.lineno}: .{node.func.attr}()"
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in WRITES
    }


def test_selectors_never_write() -> None:
    wrong = sorted(
        f"{path.relative_to(ROOT)}:{call}"
        for path in _files(("hermod_core/selectors",))
        for call in _writing_calls(path)
    )
    assert wrong == []


def test_the_write_check_sees_a_write(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("Message.objects.filter(pk=1).update(state='X')\nname = {}.get('a')\n")
    assert _writing_calls(module) == {"1: .update()"}


def test_the_device_side_is_checked_in_its_three_homes() -> None:
    """Reads (selectors), pure wire bodies (protocol), writes (services): issue 13 item 4."""
    checked = {path.relative_to(ROOT).as_posix() for places in RULES for path in _files(places)}
    assert {
        "hermod_core/selectors/mailbox.py",
        "hermod_core/protocol/mailbox.py",
        "hermod_core/protocol/results.py",
        "hermod_core/services/mailbox.py",
        "hermod_core/services/answers.py",
    } <= checked


def test_the_check_sees_a_forbidden_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("from hermod_core.services.credentials import seal\nimport django.db\n")
    assert {"hermod_core.services.credentials", "django.db"} <= imported_names(module)
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
