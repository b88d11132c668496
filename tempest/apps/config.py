"""AppConfig: what tempest knows about one installed app."""

from __future__ import annotations

import importlib.util
from importlib import import_module
from pathlib import Path
from types import ModuleType
from typing import ClassVar

from tempest.exceptions.framework import ImproperlyConfigured

DISCOVERED_MODULES: tuple[str, ...] = (
    "models",
    "routers",
    "admin",
    "tasks",
    "subscribers",
    "seeds",
    "checks",
)
"""Modules of an app that tempest knows by name (each a module or a package)."""


class AppConfig:
    """Configuration of an installed app.

    Subclass it in the app's ``apps.py`` to change the label, the verbose name or the API
    prefix, or to run code once the registry is ready::

        class OrdersConfig(AppConfig):
            name = "orders"
            verbose_name = "Orders"

            def ready(self) -> None:
                from orders import signals  # noqa: F401

    Attributes:
        name: Dotted path of the app package, as written in INSTALLED_APPS.
        label: Short unique name; defaults to the last part of ``name``.
        verbose_name: Human-readable name; defaults to the label, title-cased.
        api_prefix: Where the app's ``router`` is mounted; defaults to ``/api/<label>``.
        module: The imported app package.
        path: Directory of the app package.
    """

    name: str = ""
    label: str = ""
    verbose_name: str = ""
    api_prefix: str = ""
    default: ClassVar[bool] = False

    def __init__(self, app_name: str, app_module: ModuleType) -> None:
        self.name = app_name
        self.module = app_module
        if not self.label:
            self.label = app_name.rpartition(".")[2]
        if not self.label.isidentifier():
            raise ImproperlyConfigured(
                f"App {app_name!r}: label {self.label!r} is not a valid Python identifier; "
                "set `label` on its AppConfig."
            )
        if not self.verbose_name:
            self.verbose_name = self.label.replace("_", " ").title()
        if not self.api_prefix:
            self.api_prefix = f"/api/{self.label}"
        self.path = _package_path(app_name, app_module)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.label}>"

    def has_module(self, name: str) -> bool:
        """Whether the app has the module ``name`` (``models``, ``routers``, ...).

        Looks on disk; nothing is imported.
        """
        return (self.path / f"{name}.py").is_file() or (self.path / name / "__init__.py").is_file()

    def import_module(self, name: str) -> ModuleType | None:
        """Import the app's module ``name`` if it exists.

        Args:
            name: Module name inside the app, e.g. ``routers``.

        Returns:
            The module, or None when the app has no such module.

        Raises:
            ImproperlyConfigured: Importing the module failed; the message names the app,
                the module and the error.
        """
        if not self.has_module(name):
            return None
        dotted = f"{self.name}.{name}"
        try:
            return import_module(dotted)
        except ImproperlyConfigured:
            raise
        except Exception as error:
            raise ImproperlyConfigured(
                f"App {self.label!r}: importing {dotted} failed: {type(error).__name__}: {error}"
            ) from error

    @property
    def ships_with_tempest(self) -> bool:
        """Whether the app is one of tempest's own (``tempest.contrib.*``)."""
        return self.name.startswith("tempest.")

    @property
    def migrations_path(self) -> Path:
        """The app's Alembic revisions folder (``<app>/migrations``)."""
        return self.path / "migrations"

    @property
    def commands_path(self) -> Path:
        """Where the app's management commands live."""
        return self.path / "management" / "commands"

    def ready(self) -> None:
        """Run once the registry is populated. Override to connect signals and the like."""


def _package_path(app_name: str, module: ModuleType) -> Path:
    paths = list(getattr(module, "__path__", []))
    if len(paths) != 1:
        raise ImproperlyConfigured(
            f"App {app_name!r} must be a regular package (a folder with __init__.py)."
        )
    return Path(paths[0])


def find_app_config_class(app_name: str) -> type[AppConfig]:
    """Return the AppConfig subclass declared in ``<app>/apps.py``, or AppConfig itself.

    Args:
        app_name: Dotted app package.

    Raises:
        ImproperlyConfigured: apps.py declares several configs and none is marked
            ``default = True``.
    """
    spec = importlib.util.find_spec(f"{app_name}.apps")
    if spec is None:
        return AppConfig
    module = import_module(f"{app_name}.apps")
    candidates = [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, AppConfig)
        and value is not AppConfig
        and value.__module__ == module.__name__
    ]
    defaults = [candidate for candidate in candidates if candidate.default]
    if len(defaults) == 1:
        return defaults[0]
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        return AppConfig
    names = ", ".join(sorted(candidate.__name__ for candidate in candidates))
    raise ImproperlyConfigured(
        f"{app_name}.apps declares several AppConfig classes ({names}); "
        "mark the one to use with `default = True`."
    )
