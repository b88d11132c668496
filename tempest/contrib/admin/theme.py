"""AdminTheme: colours, font and corner radius laid over the admin's stock stylesheet."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields

__all__ = ["AdminTheme"]

# A CSS value that cannot leave its declaration: no ; { } < > \ or comments, no url().
_SAFE_VALUE = re.compile(r"^[A-Za-z0-9#%.,()\s'\"+-]{1,200}$")
_FORBIDDEN = re.compile(r"url\s*\(|expression\s*\(|image\s*\(|/\*", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class AdminTheme:
    """Typed overrides of the admin's look; every field left as None keeps the default.

    Each value is a CSS value (``"#0f766e"``, ``"rgb(15 118 110)"``, ``"'Inter', sans-serif"``,
    ``"6px"``). The theme becomes CSS custom properties served after the stock stylesheet.

    Attributes:
        primary: Buttons, links and the header bar.
        primary_text: Text on ``primary``.
        background: Page background.
        surface: Cards, tables and forms.
        text: Body text.
        muted: Secondary text.
        border: Lines around tables and fields.
        danger: Delete buttons and error messages.
        font_family: The page font.
        radius: Corner radius of cards, buttons and fields.

    Raises:
        ValueError: A value holds characters that could end the CSS declaration or load
            something (``;``, braces, ``<``, ``url(``, comments...).
    """

    primary: str | None = None
    primary_text: str | None = None
    background: str | None = None
    surface: str | None = None
    text: str | None = None
    muted: str | None = None
    border: str | None = None
    danger: str | None = None
    font_family: str | None = None
    radius: str | None = None

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if value is None:
                continue
            if not isinstance(value, str):
                raise TypeError(f"AdminTheme.{item.name} must be a str, got {value!r}")
            if not _SAFE_VALUE.match(value) or _FORBIDDEN.search(value):
                raise ValueError(
                    f"AdminTheme.{item.name}={value!r} is not a plain CSS value: use colours, "
                    "lengths and font names only (no ; { } < > \\ url() or comments)."
                )

    def css(self) -> str:
        """The stylesheet that applies the theme (empty when nothing is set)."""
        declarations = [
            f"  --admin-{item.name.replace('_', '-')}: {getattr(self, item.name)};"
            for item in fields(self)
            if getattr(self, item.name) is not None
        ]
        if not declarations:
            return ""
        return ":root {\n" + "\n".join(declarations) + "\n}\n"
