"""Importing objects named by dotted paths in settings, and lazy package attributes.

:func:`lazy_attributes` is the PEP 562 helper tempest's packages use; apps (tempest's
contrib apps included) use it from here, its public home.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from tempest._lazy import lazy_attributes
from tempest.exceptions.framework import ImproperlyConfigured

__all__ = ["import_string", "lazy_attributes"]


def import_string(dotted_path: str, setting: str) -> Any:
    """Import ``package.module.Name`` and return ``Name``.

    Args:
        dotted_path: What to import.
        setting: The setting it came from, for the error message.

    Raises:
        ImproperlyConfigured: The path does not import; the message names the setting.
    """
    module_name, _, attribute = dotted_path.rpartition(".")
    try:
        return getattr(import_module(module_name), attribute)
    except (ImportError, AttributeError, ValueError) as error:
        raise ImproperlyConfigured(
            f"{setting} entry {dotted_path!r} cannot be imported: {error}"
        ) from error
