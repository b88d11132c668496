"""Show the settings that differ from tempest's defaults, secrets masked."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import click

if TYPE_CHECKING:
    from tempest.conf.mixins import BaseAppSettings

requires_setup = False  # reads the settings only: a broken app must not hide them

PROJECT_MARK = "###"
"""Ends the line of a setting tempest does not define; starts one at its default (--all)."""


@dataclass(frozen=True)
class SettingRow:
    """One setting as ``diffsettings`` shows it.

    Attributes:
        name: The setting's name.
        value: Its value, masked.
        default: tempest's default, masked; None when tempest does not define it.
        framework: Whether tempest defines the setting (False: the project's own).
        is_default: Whether the value is tempest's default.
    """

    name: str
    value: Any
    default: Any
    framework: bool
    is_default: bool


@click.command()
@click.option(
    "--all",
    "show_all",
    is_flag=True,
    help=f"Show every setting; those at their default start with '{PROJECT_MARK}'.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print a JSON array of {name, value, default, framework, is_default}.",
)
def command(show_all: bool, as_json: bool) -> None:
    """Show the settings that differ from tempest's defaults, one NAME = value per line.

    Settings tempest does not define (the project's own) are always shown, followed by
    '###'. Secret values show as '********' and the passwords of URLs are masked.
    """
    from tempest.conf import settings
    from tempest.conf.lazy import LazySettings

    rows = setting_rows(cast(LazySettings, settings).unwrap())
    shown = [row for row in rows if show_all or not row.is_default]
    if as_json:
        from pydantic_core import to_jsonable_python

        click.echo(
            json.dumps(
                [
                    {
                        "name": row.name,
                        "value": to_jsonable_python(row.value, fallback=repr),
                        "default": to_jsonable_python(row.default, fallback=repr),
                        "framework": row.framework,
                        "is_default": row.is_default,
                    }
                    for row in shown
                ],
                indent=2,
            )
        )
        return
    for row in shown:
        line = f"{row.name} = {row.value!r}"
        if not row.framework:
            line = f"{line}  {PROJECT_MARK}"
        elif row.is_default:
            line = f"{PROJECT_MARK} {line}"
        click.echo(line)


def setting_rows(current: BaseAppSettings) -> list[SettingRow]:
    """Every setting of ``current`` against tempest's defaults, sorted by name, masked.

    Args:
        current: The project's settings instance.

    Returns:
        One row per field of its class.
    """
    from tempest.conf.masking import mask_setting, secret_setting_names

    defaults = framework_defaults(type(current))
    secret = secret_setting_names(type(current))
    rows = []
    for name in sorted(type(current).model_fields):
        value = getattr(current, name)
        framework = name in defaults
        default = defaults.get(name)
        rows.append(
            SettingRow(
                name=name,
                value=mask_setting(name, value, secret),
                default=mask_setting(name, default, secret) if framework else None,
                framework=framework,
                is_default=framework and _same(value, default),
            )
        )
    return rows


def framework_defaults(settings_class: type[BaseAppSettings]) -> dict[str, Any]:
    """The default of every field that one of tempest's classes defines.

    The defaults are validated as the settings are, but read from no environment variable
    and no ``.env``; a field the project redeclares keeps tempest's default.

    Args:
        settings_class: The project's settings class.

    Returns:
        The defaults by field name.
    """
    from tempest.conf.mixins import BaseAppSettings

    ours = [
        klass
        for klass in settings_class.__mro__
        if issubclass(klass, BaseAppSettings) and klass.__module__.startswith("tempest.")
    ]
    # The most derived of tempest's classes (Settings, and the mixins added next to it)
    # between them declare every field tempest defines.
    leaves = [
        klass for klass in ours if not any(o is not klass and issubclass(o, klass) for o in ours)
    ]
    defaults: dict[str, Any] = {}
    for klass in leaves:
        instance = _defaults_only(klass)()
        for name in klass.model_fields:
            defaults.setdefault(name, getattr(instance, name))
    return defaults


def _defaults_only(klass: type[BaseAppSettings]) -> type[BaseAppSettings]:
    """``klass`` reading only what is passed to it: no environment, no ``.env``."""
    from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

    class Defaults(klass):  # type: ignore[valid-type,misc]
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (init_settings,)

    return Defaults


def _same(value: Any, default: Any) -> bool:
    try:
        return bool(value == default) and type(value) is type(default)
    except Exception:  # a value whose __eq__ fails differs
        return False
