"""The settings tables of docs/topics/settings.md match the fields in tempest.conf."""

from __future__ import annotations

import re

import pytest

from tests.docs.markdown import DOCS
from tests.docs.settings_tables import HEADER, SECTIONS, rows

PAGE = DOCS / "topics" / "settings.md"
_CELL = re.compile(r"^`(.*)`$")


def documented_rows(title: str) -> list[tuple[str, str, str]]:
    """(name, type, default) of the table under the heading ``### `title` ``."""
    text = PAGE.read_text(encoding="utf-8")
    section = text.split(f"### `{title}`\n", 1)
    assert len(section) == 2, f"{PAGE.name} has no section for {title}"
    table = section[1].split(HEADER + "\n", 1)
    assert len(table) == 2, f"the {title} section of {PAGE.name} has no settings table"
    found = []
    for line in table[1].splitlines()[1:]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in re.split(r"(?<!\\)\|(?=(?:[^`]*`[^`]*`)*[^`]*$)", line)]
        name, type_, default = (_CELL.sub(r"\1", cell) for cell in cells[1:4])
        found.append((name, type_, default))
    return found


@pytest.mark.parametrize(("title", "cls"), SECTIONS, ids=[title for title, _ in SECTIONS])
def test_table_matches_the_code(title: str, cls: type) -> None:
    assert documented_rows(title) == rows(cls), (
        f"Update the {title} table in {PAGE.relative_to(DOCS.parent)}; "
        "`python -m tests.docs.settings_tables` prints the current one."
    )
