"""The app registry: which apps are installed, their configs and their models."""

from __future__ import annotations

import difflib
import pkgutil
import sys
import threading
from collections.abc import Iterable
from importlib import import_module
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from tempest.apps.config import AppConfig, find_app_config_class
from tempest.exceptions.catalog import default_message_catalog
from tempest.exceptions.framework import ImproperlyConfigured

if TYPE_CHECKING:
    from tempest.db.models import BaseModel


class Apps:
    """Registry of the installed apps.

    :meth:`populate` reads top to bottom in phases: import each app and build its config,
    import every app's ``models`` and ``checks``, add each app's ``locale/<locale>.json``
    error messages to :data:`~tempest.exceptions.default_message_catalog`, then call each
    ``AppConfig.ready()``. Other app modules (``routers``, ``admin``, ``tasks``, ...) are
    imported by the part of tempest that uses them, through
    :meth:`AppConfig.import_module`.
    """

    def __init__(self) -> None:
        self.app_configs: dict[str, AppConfig] = {}
        self.ready = False
        self._populated_with: tuple[str, ...] | None = None
        self._loading = False
        self._lock = threading.RLock()
        self._tables_declared: dict[str, set[str]] = {}

    def populate(self, installed_apps: Iterable[str]) -> None:
        """Load the installed apps. Calling it again is a no-op.

        Args:
            installed_apps: Dotted app packages, usually ``settings.INSTALLED_APPS``.

        Raises:
            ImproperlyConfigured: An app cannot be imported, two apps share a label, or an
                app's models or checks fail to import. The registry is left empty, so the
                error is raised again on the next call rather than half-hidden.
        """
        if self.ready:
            return
        with self._lock:
            if self.ready:
                return
            if self._loading:
                raise RuntimeError("Apps.populate() is not reentrant; do not call it from ready().")
            self._loading = True
            try:
                names = tuple(installed_apps)
                self._load_configs(names)
                for config in self.app_configs.values():
                    before = _declared_table_names()
                    config.import_module("models")
                    self._tables_declared[config.label] = _declared_table_names() - before
                for config in self.app_configs.values():
                    config.import_module("checks")
                for config in self.app_configs.values():
                    # The app's error messages (locale/pt-BR.json...), read at start-up.
                    default_message_catalog.load_directory(config.path / "locale")
                for config in self.app_configs.values():
                    config.ready()
                self._populated_with = names
                self.ready = True
            except BaseException:
                self.app_configs = {}
                self._tables_declared = {}
                raise
            finally:
                self._loading = False

    def _load_configs(self, names: tuple[str, ...]) -> None:
        seen_names: set[str] = set()
        for name in names:
            if not isinstance(name, str) or not name:
                raise ImproperlyConfigured(
                    f"INSTALLED_APPS entries must be dotted paths: {name!r}."
                )
            if name in seen_names:
                raise ImproperlyConfigured(f"INSTALLED_APPS lists {name!r} twice; remove one.")
            seen_names.add(name)
            module = _import_app(name)
            config = find_app_config_class_safely(name)(name, module)
            other = self.app_configs.get(config.label)
            if other is not None:
                raise ImproperlyConfigured(
                    f"App labels must be unique: {other.name!r} and {name!r} both use "
                    f"{config.label!r}. Set `label` on one AppConfig in its apps.py."
                )
            self.app_configs[config.label] = config

    def reset(self) -> None:
        """Forget every app (for tests of the registry itself)."""
        with self._lock:
            self.app_configs = {}
            self.ready = False
            self._populated_with = None

    def check_ready(self) -> None:
        """Raise unless the registry is populated.

        Raises:
            ImproperlyConfigured: ``tempest.setup()`` has not run.
        """
        if not self.ready:
            raise ImproperlyConfigured(
                "Apps aren't loaded yet: call tempest.setup() first. Commands, "
                "get_asgi_application() and the test plugin call it before running code, "
                "but not while importing a module: read the registry inside functions."
            )

    def get_app_configs(self) -> list[AppConfig]:
        """Every installed app, in INSTALLED_APPS order."""
        self.check_ready()
        return list(self.app_configs.values())

    def get_app_config(self, label: str) -> AppConfig:
        """Return the app with this label.

        Raises:
            LookupError: No installed app has that label; the message suggests the closest.
        """
        self.check_ready()
        try:
            return self.app_configs[label]
        except KeyError:
            raise LookupError(_unknown_label_message(label, list(self.app_configs))) from None

    def import_app_modules(self, name: str) -> list[tuple[AppConfig, ModuleType]]:
        """Import the module ``name`` (``tasks``, ``seeds``, ``admin``, ...) of every app.

        Args:
            name: Module name inside the apps.

        Returns:
            (app, module) for each app that has the module, in INSTALLED_APPS order.

        Raises:
            ImproperlyConfigured: One of the modules fails to import; the message names it.
        """
        found = []
        for config in self.get_app_configs():
            module = config.import_module(name)
            if module is not None:
                found.append((config, module))
        return found

    def is_installed(self, name: str) -> bool:
        """Whether an app with this dotted name is installed."""
        return any(config.name == name for config in self.app_configs.values())

    def get_containing_app_config(self, module_name: str) -> AppConfig | None:
        """The installed app whose package contains ``module_name``, if any."""
        containing = [
            config
            for config in self.app_configs.values()
            if module_name == config.name or module_name.startswith(config.name + ".")
        ]
        return max(containing, key=lambda config: len(config.name), default=None)

    def get_table_names(self, app_label: str) -> set[str]:
        """The tables an app owns: those of its models and those its ``models`` declared.

        Plain ``Table`` objects (many-to-many association tables) belong to the app whose
        ``models`` module created them.

        Args:
            app_label: The app.

        Returns:
            Table names.
        """
        tables = {str(getattr(model.__table__, "name", "")) for model in self.get_models(app_label)}
        return tables | self._tables_declared.get(app_label, set())

    def get_models(self, app_label: str | None = None) -> list[type[BaseModel]]:
        """Concrete models of the installed apps, or of one app.

        Args:
            app_label: Only this app's models.

        Returns:
            Model classes, in app order then definition order.
        """
        self.check_ready()
        if app_label is not None:
            self.get_app_config(app_label)
        from tempest.db.models import BaseModel

        by_app: dict[str, list[type[BaseModel]]] = {label: [] for label in self.app_configs}
        for mapper in BaseModel.registry.mappers:
            model: Any = mapper.class_
            config = self.get_containing_app_config(model.__module__)
            if config is not None:
                by_app[config.label].append(model)
        # SQLAlchemy keeps mappers in a set; a module's namespace keeps definition order.
        positions: dict[int, int] = {}  # id(class) -> place in its module's namespace
        for module_name in {model.__module__ for models in by_app.values() for model in models}:
            module = sys.modules.get(module_name)
            for index, value in enumerate(vars(module).values() if module else ()):
                positions.setdefault(id(value), index)
        for models in by_app.values():
            models.sort(key=lambda model: (model.__module__, positions.get(id(model), 1 << 30)))
        if app_label is not None:
            return by_app[app_label]
        return [model for models in by_app.values() for model in models]


def _declared_table_names() -> set[str]:
    """Tables on ``BaseModel.metadata`` so far (none before any model is imported)."""
    models = sys.modules.get("tempest.db.models")
    return set(models.BaseModel.metadata.tables) if models is not None else set()


def find_app_config_class_safely(name: str) -> type[AppConfig]:
    """Like :func:`find_app_config_class`, with import errors named after the app."""
    try:
        return find_app_config_class(name)
    except ImproperlyConfigured:
        raise
    except Exception as error:
        raise ImproperlyConfigured(
            f"App {name!r}: importing {name}.apps failed: {type(error).__name__}: {error}"
        ) from error


def _import_app(name: str) -> Any:
    try:
        return import_module(name)
    except ModuleNotFoundError as error:
        if error.name is not None and (name == error.name or name.startswith(error.name + ".")):
            hint = _closest_local_package(name)
            suggestion = f" Did you mean {hint!r}?" if hint else ""
            raise ImproperlyConfigured(
                f"INSTALLED_APPS: no app named {name!r} (no module {error.name!r}).{suggestion}"
            ) from error
        raise ImproperlyConfigured(
            f"App {name!r}: importing it failed: {type(error).__name__}: {error}"
        ) from error
    except ImproperlyConfigured:
        raise
    except Exception as error:
        raise ImproperlyConfigured(
            f"App {name!r}: importing it failed: {type(error).__name__}: {error}"
        ) from error


def _closest_local_package(name: str) -> str | None:
    candidates = [info.name for info in pkgutil.iter_modules([str(Path.cwd())]) if info.ispkg]
    candidates += ["tempest.contrib.auth", "tempest.contrib.admin"]
    matches = difflib.get_close_matches(name, candidates, n=1)
    return matches[0] if matches else None


def _unknown_label_message(label: str, labels: list[str]) -> str:
    matches = difflib.get_close_matches(label, labels, n=1)
    if matches:
        return f"No installed app with label {label!r}. Did you mean {matches[0]!r}?"
    installed = ", ".join(labels) or "none"
    return f"No installed app with label {label!r}. Installed apps: {installed}."


apps = Apps()
"""The project's app registry."""
