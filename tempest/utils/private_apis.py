"""The error tempest raises when a library no longer has a private name tempest uses.

The wrappers of those names are in :mod:`tempest.db.internals` (SQLAlchemy, Alembic,
FastAPI's request exit stack) and :mod:`tempest.api.internals` (FastAPI, Starlette).
"""

from __future__ import annotations

import sys
from importlib import import_module

__all__ = ["PrivateAPIChanged", "private_api_changed"]


class PrivateAPIChanged(RuntimeError):
    """A library no longer has the private name tempest uses: tempest needs an update."""


def _installed_version(module: str) -> str:
    try:
        return str(getattr(import_module(module), "__version__", "(unknown version)"))
    except ImportError:
        return "(not installed)"


def private_api_changed(
    library: str, module: str, name: str, change: str = ""
) -> PrivateAPIChanged:
    """The error for a private name that the installed ``library`` no longer has.

    Args:
        library: The library's name, as users know it (``"SQLAlchemy"``).
        module: Its top-level module, whose ``__version__`` is reported.
        name: The private name, qualified (``"IdentityMap._add_unpresent"``).
        change: What changed, when it is not that the name is gone.

    Returns:
        ``RuntimeError``: "SQLAlchemy 2.2.0 no longer has IdentityMap._add_unpresent;
        tempest 0.1.0 needs an update ...".
    """
    tempest_version = getattr(sys.modules.get("tempest"), "__version__", "")
    what = change or f"no longer has {name}"
    return PrivateAPIChanged(
        f"{library} {_installed_version(module)} {what}; tempest {tempest_version} needs an "
        f"update for it. Until then, install the {library} version named in the docstring "
        "of the function that raised this (tempest/db/internals.py or "
        "tempest/api/internals.py)."
    )
