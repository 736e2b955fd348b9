"""The wire contract ships in docs/ and every reference points there (issue 16 item 9): code and
templates name ``docs/PROTOCOL.md``, markdown links to it relatively, and every link's section
exists. Catches a bare "PROTOCOL.md §" that a later change brings in."""

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BARE = re.compile(r"(?<![/\w\[])(PROTOCOL|STYLE)\.md")
LINK = re.compile(r"\]\(((?:docs/)?(?:PROTOCOL|STYLE|[a-z]+)\.md)(?:#([\w-]+))?\)")


def tracked(suffixes: tuple[str, ...]) -> list[Path]:
    names = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    return [ROOT / n for n in names if n.endswith(suffixes) and (ROOT / n).is_file()]


def slugs(markdown: Path) -> set[str]:
    """GitHub's heading anchors."""
    found = set()
    for line in markdown.read_text().splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            found.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return found


def test_the_contract_and_the_style_ship_in_docs() -> None:
    assert (ROOT / "docs/PROTOCOL.md").read_text().startswith("# Hermod wire protocol")
    assert (ROOT / "docs/STYLE.md").read_text().startswith("# House style")


def test_code_and_templates_name_the_contract_by_its_path() -> None:
    bare = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in tracked((".py", ".html", ".js", ".css", ".yaml", ".toml"))
        if path != Path(__file__).resolve()  # this file names what it looks for
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if BARE.search(line)
    ]
    assert bare == [], "write docs/PROTOCOL.md (or docs/STYLE.md)"


def test_markdown_links_to_the_contract_resolve_to_a_section() -> None:
    problems = []
    for path in tracked((".md",)):
        if path.name in ("PROTOCOL.md", "STYLE.md"):
            continue
        text = path.read_text()
        for line in text.splitlines():
            if BARE.search(re.sub(r"\[[^\]]*\]\([^)]*\)", "", line)):
                problems.append(f"{path.relative_to(ROOT)}: unlinked {line.strip()[:60]}")
        for target, anchor in LINK.findall(text):
            file = (path.parent / target).resolve()
            if not file.exists():
                problems.append(f"{path.relative_to(ROOT)}: no file {target}")
            elif anchor and anchor not in slugs(file):
                problems.append(f"{path.relative_to(ROOT)}: no section #{anchor} in {target}")
    assert problems == []
