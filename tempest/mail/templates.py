"""Email templates: one subject, text and HTML file per template and locale.

A template named ``password_reset`` is three files in a locale's folder::

    templates/
      en-US/password_reset.subject.txt
      en-US/password_reset.txt
      en-US/password_reset.html      (optional)
      pt-BR/password_reset.subject.txt
      ...

The requested locale's folder is tried first, then the default locale's, then the
templates root (for projects that write in a single language). The subject and the text
body are required; the HTML body is optional. Only ``.html`` files are autoescaped.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from tempest.mail.errors import EmailError, EmailTemplateNotFound
from tempest.mail.locale import DEFAULT_LOCALE, SUPPORTED_LOCALES, normalize_locale

if TYPE_CHECKING:
    from jinja2 import BaseLoader, Environment, Template

__all__ = ["EmailTemplates", "RenderedEmail", "TemplateSource"]

TemplateSource: TypeAlias = "BaseLoader | str | os.PathLike[str] | Sequence[str | os.PathLike[str]]"
"""Where templates come from: a Jinja2 loader, or one or more directories."""


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    """An email template rendered for one locale, ready to send.

    Attributes:
        subject: The subject, on one line.
        text: The plain-text body.
        html: The HTML body, or None when the template has no ``.html`` file.
        locale: The locale folder the files came from; None for the templates root.
    """

    subject: str
    text: str
    html: str | None
    locale: str | None


def _directories(templates: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[str]:
    if isinstance(templates, str | os.PathLike):
        paths: Sequence[str | os.PathLike[str]] = [templates]
    elif isinstance(templates, Sequence):
        paths = templates
    else:
        raise TypeError(
            "templates must be a Jinja2 loader, a directory or a list of directories, "
            f"not {type(templates).__name__}"
        )
    if not paths:
        raise ValueError("templates must name at least one directory")
    directories: list[str] = []
    for path in paths:
        if not isinstance(path, str | os.PathLike):
            raise TypeError(
                "templates must be a Jinja2 loader, a directory or a list of directories, "
                f"not {type(path).__name__}"
            )
        if not Path(path).is_dir():
            raise ValueError(f"email template directory {os.fspath(path)!r} does not exist")
        directories.append(os.fspath(path))
    return directories


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not name.strip():
        raise ValueError("template must be a non-empty name such as 'password_reset'")
    if name.startswith("/") or "\\" in name or ".." in name.split("/"):
        raise ValueError(f"template {name!r} must be a relative name without '..'")


class EmailTemplates:
    """Find and render email templates per locale with Jinja2.

    Example:
        >>> templates = EmailTemplates("templates/email")  # doctest: +SKIP
        >>> email = templates.render("welcome", {"name": "Ana"}, locale="pt_BR")  # doctest: +SKIP
        >>> email.subject  # doctest: +SKIP
        'Bem-vinda, Ana!'

    Args:
        templates: A Jinja2 loader, or a directory or list of directories.
        default_locale: The locale whose files are used when the requested locale has none.
        locales: The locales a request may ask for; others fall back to the default.

    Raises:
        ValueError: A directory does not exist, or ``default_locale`` is not in ``locales``.
        TypeError: ``templates`` is of another type.
    """

    def __init__(
        self,
        templates: TemplateSource,
        *,
        default_locale: str = DEFAULT_LOCALE,
        locales: Sequence[str] = SUPPORTED_LOCALES,
    ) -> None:
        import jinja2

        self.locales = tuple(locales)
        self.default_locale = normalize_locale(
            default_locale, default=default_locale, supported=self.locales
        )
        if isinstance(templates, jinja2.BaseLoader):
            loader: jinja2.BaseLoader = templates
            searchpath = getattr(templates, "searchpath", None)
            self._where = ", ".join(searchpath) if searchpath else type(templates).__name__
        else:
            directories = _directories(templates)
            loader = jinja2.FileSystemLoader(directories)
            self._where = ", ".join(directories)
        self.environment: Environment = jinja2.Environment(
            loader=loader,
            autoescape=jinja2.select_autoescape(
                enabled_extensions=("html", "htm"), default_for_string=False
            ),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
        )

    def _folders(self, locale: str | None) -> list[str | None]:
        first = normalize_locale(locale, default=self.default_locale, supported=self.locales)
        return list(dict.fromkeys([first, self.default_locale, None]))

    def _get(self, filename: str) -> Template | None:
        import jinja2

        try:
            return self.environment.get_template(filename)
        except jinja2.TemplateNotFound:
            return None
        except jinja2.TemplateSyntaxError as exc:
            raise EmailError(
                f"email template {filename!r} line {exc.lineno}: {exc.message}"
            ) from exc

    def _render(self, template: Template, context: Mapping[str, Any]) -> str:
        import jinja2

        try:
            return template.render(context)
        except jinja2.TemplateError as exc:
            raise EmailError(f"email template {template.name!r}: {exc.message}") from exc

    def render(
        self, name: str, context: Mapping[str, Any] | None = None, *, locale: str | None = None
    ) -> RenderedEmail:
        """Render the subject, text and HTML of template ``name`` in the best locale.

        Args:
            name: The template's name, without locale folder or extension.
            context: The variables the templates use. A variable a template uses but the
                context lacks is an error, never an empty string.
            locale: The wanted locale in any spelling (``"pt_br"``); None for the default.

        Returns:
            The rendered email.

        Raises:
            ValueError: ``name`` is empty or escapes the templates folder.
            EmailTemplateNotFound: No folder has ``<name>.subject.txt``, or the folder that
                has it lacks ``<name>.txt``.
            EmailError: A template has a syntax error or uses an undefined variable.
        """
        _check_name(name)
        values = dict(context or {})
        searched: list[str] = []
        for folder in self._folders(locale):
            prefix = f"{folder}/{name}" if folder else name
            subject = self._get(f"{prefix}.subject.txt")
            searched.append(f"{prefix}.subject.txt")
            if subject is None:
                continue
            text = self._get(f"{prefix}.txt")
            if text is None:
                raise EmailTemplateNotFound(
                    f"email template {name!r} has {prefix}.subject.txt but no {prefix}.txt "
                    f"in {self._where}: every template needs a plain-text body",
                    template=name,
                    searched=(*searched, f"{prefix}.txt"),
                )
            html = self._get(f"{prefix}.html")
            return RenderedEmail(
                subject=" ".join(self._render(subject, values).split()),
                text=self._render(text, values),
                html=self._render(html, values) if html is not None else None,
                locale=folder,
            )
        raise EmailTemplateNotFound(
            f"email template {name!r} not found: looked for {', '.join(searched)} in {self._where}",
            template=name,
            searched=tuple(searched),
        )
