"""pytest plugin for tempest projects, registered through the ``pytest11`` entry point.

Installing tempest makes pytest load this module in every run, as pytest-django does;
it stays inert until the run names a tempest settings module, in the first of:

1. the ``--tempest-settings shop.settings`` command-line option;
2. the ``TEMPEST_SETTINGS_MODULE`` environment variable;
3. the ``tempest_settings`` ini option, e.g. in the project's ``pyproject.toml``::

       [tool.pytest.ini_options]
       tempest_settings = "shop.settings"

Without one it registers no fixture and changes nothing, so the tests of unrelated
projects in the same environment run as if tempest were not installed. Importing it
is cheap: FastAPI and SQLAlchemy are loaded only once a project is named. ``-p
no:tempest`` turns it off altogether.

With a settings module named, :mod:`tempest.testing.project` is registered: the test
database, ``db_session``, ``client``, ``authenticated_client``, ``user``, ``settings``,
``mailoutbox`` and the rest (see docs/topics/testing.md).
"""

from __future__ import annotations

import os
import sys
from typing import Any

import pytest

from tempest.conf.environ import ENVIRONMENT_VARIABLE

ENTRY_POINT_NAME = "tempest"
"""The plugin's name in pytest (``-p no:tempest``): its ``pytest11`` entry point."""

PROJECT_PLUGIN_NAME = "tempest-project"
"""The name :mod:`tempest.testing.project` is registered under once settings are named."""

SETTINGS_OPTION = "--tempest-settings"
SETTINGS_INI = "tempest_settings"
_ALIASES = (ENTRY_POINT_NAME, __name__)


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register ``--tempest-settings`` and the ``tempest_settings`` ini option."""
    group = parser.getgroup("tempest")
    group.addoption(
        SETTINGS_OPTION,
        dest="tempest_settings",
        default=None,
        metavar="MODULE",
        help=(
            f"Dotted settings module of the tempest project under test (e.g. shop.settings); "
            f"beats {ENVIRONMENT_VARIABLE} and the tempest_settings ini option."
        ),
    )
    parser.addini(SETTINGS_INI, "Dotted settings module of the tempest project under test.")


def settings_module(config: pytest.Config) -> str | None:
    """The settings module the run names, or None when it names none.

    The ``--tempest-settings`` option beats ``TEMPEST_SETTINGS_MODULE``, which beats the
    ``tempest_settings`` ini option, as pytest-django orders ``--ds``,
    ``DJANGO_SETTINGS_MODULE`` and its ini key.

    Args:
        config: The run's pytest configuration.
    """
    for value in (
        config.getoption("tempest_settings", default=None),
        os.environ.get(ENVIRONMENT_VARIABLE),
        config.getini(SETTINGS_INI),
    ):
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def pytest_configure(config: pytest.Config) -> None:
    """Register the project fixtures when the run names a settings module; else nothing."""
    module = settings_module(config)
    if module is None or config.pluginmanager.has_plugin(PROJECT_PLUGIN_NAME):
        return
    os.environ[ENVIRONMENT_VARIABLE] = module
    from tempest.testing import project

    project.configure(config)
    config.pluginmanager.register(project, PROJECT_PLUGIN_NAME)


def pytest_plugin_registered(
    plugin: Any, plugin_name: str, manager: pytest.PytestPluginManager
) -> None:
    """Make a second registration of this module a no-op instead of a pluggy error.

    The entry point registers it as ``tempest``; a project that also loads it by module
    name (``-p tempest.testing.plugin``, ``pytest_plugins = [...]``, as projects made
    before the entry point did) would register the same module again, which pluggy
    refuses. Blocking the other name makes pytest skip that second load.
    """
    if plugin is not sys.modules[__name__] or plugin_name not in _ALIASES:
        return
    for alias in _ALIASES:
        if alias != plugin_name and manager.get_plugin(alias) is None:
            manager.set_blocked(alias)
