"""Extract fenced code blocks and console transcripts from the documentation's markdown.

Conventions of the docs (``docs/``), relied on by ``test_examples.py``:

- A fenced block whose info string has a title (```` ```python title="orders/checks.py" ````)
  is a whole file, relative to the project directory. Tests write it there.
- A ``console`` block is a transcript that tests run: lines starting with ``$ `` are
  commands (a trailing backslash continues one), the lines after them its expected output.
  Commands that are only illustrative go in ``bash`` blocks, which tests do not run.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"

_FENCE = re.compile(
    r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^\n`]*)\n"
    r"(?P<body>.*?)"
    r"^(?P=indent)(?P=fence)[ \t]*$",
    re.MULTILINE | re.DOTALL,
)
_ATTRIBUTE = re.compile(r'(?P<key>[\w-]+)="(?P<value>[^"]*)"')
_PROMPT = "$ "


@dataclass(frozen=True)
class Block:
    """One fenced code block.

    Attributes:
        lang: The first word of the info string (``python``, ``console``...), or "".
        title: The ``title="..."`` attribute: a file path for file examples.
        code: The block's text, dedented, ending with a newline.
        page: The markdown file.
        line: Line number of the opening fence, for messages.
    """

    lang: str
    title: str | None
    code: str
    page: Path
    line: int

    @property
    def where(self) -> str:
        """``docs/page.md:LINE`` for assertion messages."""
        return f"{self.page.relative_to(DOCS.parent)}:{self.line}"


@dataclass(frozen=True)
class Session:
    """One command of a console block and the output the page shows for it."""

    command: str
    output: str
    block: Block


def blocks(page: Path) -> list[Block]:
    """Every fenced block of ``page``, in document order."""
    text = page.read_text(encoding="utf-8")
    found: list[Block] = []
    for match in _FENCE.finditer(text):
        info = match["info"].strip()
        lang = info.split(maxsplit=1)[0] if info and "=" not in info.split()[0] else ""
        attributes = {item["key"]: item["value"] for item in _ATTRIBUTE.finditer(info)}
        indent = match["indent"]
        body = match["body"]
        if indent:
            body = textwrap.dedent(body)
        found.append(
            Block(
                lang=lang,
                title=attributes.get("title"),
                code=body,
                page=page,
                line=text.count("\n", 0, match.start()) + 1,
            )
        )
    return found


def file_blocks(page: Path) -> list[Block]:
    """The titled blocks of ``page``: the files its examples consist of."""
    return [block for block in blocks(page) if block.title]


def sessions(block: Block) -> list[Session]:
    """The commands of a console block with their expected output."""
    result: list[Session] = []
    command: list[str] = []
    output: list[str] = []
    continued = False

    def flush() -> None:
        if command:
            result.append(Session(" ".join(command), "\n".join(output), block))

    for line in block.code.splitlines():
        if continued:
            continued = line.endswith("\\")
            command.append(line.removesuffix("\\").strip())
        elif line.startswith(_PROMPT):
            flush()
            command, output = [line[len(_PROMPT) :].removesuffix("\\").strip()], []
            continued = line.endswith("\\")
        elif command:
            output.append(line)
        else:
            raise ValueError(f"{block.where}: a console block must start with '$ '.")
    flush()
    return result


def pages() -> list[Path]:
    """Every markdown page of the docs."""
    return sorted(DOCS.rglob("*.md"))
