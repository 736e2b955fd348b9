"""The tests mirror the code, and a test module is not a library.

The rules:

- Under ``tests/hermod_core`` and ``tests/portal`` every folder is a package of the code at the
  same place (``tests/hermod_core/services`` ↔ ``hermod_core/services``); a test module may
  stand flat in the nearest folder that mirrors its code (the console's tests are one module
  per console area in ``tests/portal``, whatever views, forms and services the area spans).
- The other folders of ``tests/`` test across the code, and are listed here: end to end
  (``e2e``), attacks (``hardening``), a real browser (``browser``), the containers
  (``deploy``) and the benchmark (``bench``).
- No module imports a test module (``test_*.py``): what two test modules share is a helper
  module (``tests/factories.py`` for the personas and builders, ``tests/api_client.py``,
  ``tests/openapi.py``, ``tests/e2e/steps.py`` …), and fixtures live in a ``conftest.py``.
"""

from pathlib import Path

from tests.imports import imported_names

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"
MIRRORED = ("hermod_core", "portal")
CROSS_CUTTING = {"e2e", "hardening", "browser", "deploy", "bench"}


def _folders(top: Path) -> list[Path]:
    return sorted(p for p in top.rglob("*") if p.is_dir() and p.name != "__pycache__")


def _test_module_imports(path: Path) -> list[str]:
    """The test modules (``tests.….test_*``) that ``path`` imports."""
    return sorted(
        name
        for name in imported_names(path)
        if name.startswith("tests.")
        and any(part.startswith("test_") for part in name.split(".")[1:])
    )


def test_the_top_folders_of_the_tests_are_the_code_or_listed_cross_cutting_ones() -> None:
    top = {p.name for p in TESTS.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert top - CROSS_CUTTING - set(MIRRORED) == set()


def test_every_folder_under_a_mirrored_tree_is_a_package_of_the_code() -> None:
    strays = [
        str(folder.relative_to(ROOT))
        for top in MIRRORED
        for folder in _folders(TESTS / top)
        if not (ROOT / folder.relative_to(TESTS) / "__init__.py").is_file()
    ]
    assert strays == []


def test_no_module_imports_a_test_module() -> None:
    wrong = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in sorted(TESTS.rglob("*.py"))
        for name in _test_module_imports(path)
    ]
    assert wrong == []


def test_the_check_sees_an_import_of_a_test_module(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "from tests.portal.test_mfa import totp\n"
        "import tests.e2e.test_faults\n"
        "from tests.factories import persona\n"
    )
    assert _test_module_imports(module) == [
        "tests.e2e.test_faults",
        "tests.portal.test_mfa",
        "tests.portal.test_mfa.totp",
    ]
