"""Lazy package attributes (PEP 562): a name is imported from its module on first use.

Packages list ``{name: module}`` and delegate their module ``__getattr__`` here, so that
importing a package costs nothing for the names a program never uses.
"""

from __future__ import annotations

import sys
from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping


def lazy_attributes(package: str, names: Mapping[str, str]) -> Callable[[str], Any]:
    """The body of ``package``'s ``__getattr__``: import ``names[name]``, keep the value.

    Args:
        package: The package's ``__name__``.
        names: Attribute name -> the module that defines it.

    Returns:
        A function taking an attribute name; it raises AttributeError for other names.
    """
    namespace = sys.modules[package].__dict__

    def load(name: str) -> Any:
        module_name = names.get(name)
        if module_name is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(module_name), name)
        namespace[name] = value  # the next access does not come here
        return value

    return load
