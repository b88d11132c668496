"""No module of tempest grows past :data:`MAX_LINES` lines without a stated reason.

A long module usually holds several concepts; splitting it by concern keeps each one
readable. A module that is long for a good reason (one cohesive concept, generated data)
is listed in :data:`ALLOWED` with that reason.
"""

from __future__ import annotations

from tests.helpers import REPO

MAX_LINES = 600

ALLOWED: dict[str, str] = {
    "tempest/__init__.py": (
        "the public export table: each name once for the lazy import and once in the "
        "TYPE_CHECKING block, so that type checkers see it; no logic"
    ),
}
"""Module path (relative to the repository) -> why it may be longer."""

MODULES = sorted((REPO / "tempest").rglob("*.py"))


def _line_count(path: str) -> int:
    return len((REPO / path).read_text(encoding="utf-8").splitlines())


def test_modules_are_short_or_say_why() -> None:
    long = {
        path: lines
        for path in (str(p.relative_to(REPO)) for p in MODULES)
        if (lines := _line_count(path)) > MAX_LINES and path not in ALLOWED
    }
    assert not long, (
        f"modules over {MAX_LINES} lines: {long}; split each by concern, or list it in "
        f"ALLOWED in {__file__} with the reason it is one concept"
    )


def test_allowed_entries_are_still_needed() -> None:
    stale = [path for path in ALLOWED if _line_count(path) <= MAX_LINES]
    assert not stale, f"remove from ALLOWED (now {MAX_LINES} lines or fewer): {stale}"
