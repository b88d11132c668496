"""Runs code blocks of the spec (tempest-fastapi-sdk 0.72.0's README) against tempest.

A snippet is the spec's code block as printed, with only these replacements applied
(docs/topics/coming-from-sdk.md explains each one):

- module moves: ``tempest_fastapi_sdk.settings`` -> ``tempest.conf``,
  ``tempest_fastapi_sdk.auth`` -> ``tempest.contrib.auth``, ``tempest_fastapi_sdk.admin``
  -> ``tempest.contrib.admin``, then ``tempest_fastapi_sdk`` -> ``tempest``;
- the reader's own modules: each ``from src... import a, b`` line is dropped, and the
  test passes ``a`` and ``b`` in (built from the spec's tutorial where it has them);
  :func:`run` fails when one is missing, so the glue is exactly what the line imports;
- ``replace`` pairs a test states next to its snippet, each with its reason (placeholders
  such as ``FastAPI(...)``, a broker the spec says to swap for tests, a spec erratum).
"""

from __future__ import annotations

import ast
import inspect
import itertools
import re
import sys
import textwrap
import types
from typing import Any

MOVES = (
    ("tempest_fastapi_sdk.settings", "tempest.conf"),
    ("tempest_fastapi_sdk.auth", "tempest.contrib.auth"),
    ("tempest_fastapi_sdk.admin", "tempest.contrib.admin"),
    ("tempest_fastapi_sdk", "tempest"),
)

_SRC_IMPORT = re.compile(r"^\s*from\s+src(?:\.\w+)*\s+import\s+(.*)$")
_counter = itertools.count()


def apply_moves(source: str) -> str:
    """The snippet with tempest's module names."""
    for old, new in MOVES:
        source = source.replace(old, new)
    return source


def _drop_src_imports(source: str) -> tuple[str, list[str]]:
    """The source without ``from src... import`` statements, and the names they import."""
    kept: list[str] = []
    names: list[str] = []
    lines = iter(source.splitlines())
    for line in lines:
        match = _SRC_IMPORT.match(line)
        if match is None:
            kept.append(line)
            continue
        imported = match.group(1).split("#")[0]
        if imported.strip().startswith("("):
            while ")" not in imported:
                imported += " " + next(lines).split("#")[0]
        imported = imported.strip().strip("()")
        for part in imported.split(","):
            if part.strip():
                name = part.split(" as ")[-1].strip()
                names.append(name)
        kept.append("")  # keep line numbers
    return "\n".join(kept), names


async def run(
    snippet: str,
    names: dict[str, Any] | None = None,
    *,
    replace: tuple[tuple[str, str], ...] = (),
    title: str = "spec recipe",
) -> dict[str, Any]:
    """Execute ``snippet`` as a module (top-level ``await`` allowed); return what it defines.

    Args:
        snippet: The spec's code block.
        names: The reader's own names the snippet's ``from src...`` lines import, and
            anything else the spec leaves to the reader.
        replace: ``(old, new)`` text replacements, each stated by the calling test.
        title: Shown in tracebacks as the snippet's file name.

    Returns:
        The module namespace after execution, without dunder names.
    """
    source = apply_moves(textwrap.dedent(snippet))
    for old, new in replace:
        assert old in source, f"replacement {old!r} is not in the snippet"
        source = source.replace(old, new)
    source, imported = _drop_src_imports(source)
    given = dict(names or {})
    # A block holding several of the reader's files imports names it defines itself.
    defined = {
        target.id if isinstance(target, ast.Name) else getattr(target, "name", "")
        for node in ast.parse(source).body
        for target in (node.targets if isinstance(node, ast.Assign) else [node])
    }
    missing = [name for name in imported if name not in given and name not in defined]
    assert not missing, f"the test must provide the reader's names {missing}"
    # A real module: SQLAlchemy and pydantic resolve annotations through sys.modules.
    module = types.ModuleType(f"spec_recipe_{next(_counter)}")
    sys.modules[module.__name__] = module
    namespace = module.__dict__
    namespace.update(given)
    code = compile(source, f"<{title}>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    result = eval(code, namespace)
    if inspect.iscoroutine(result):
        await result
    return {key: value for key, value in namespace.items() if not key.startswith("__")}
