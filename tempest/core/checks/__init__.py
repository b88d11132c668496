"""The system check framework: ``manage.py check`` and the checks before serving.

Register a check in an app's ``checks.py``::

    from tempest.core.checks import Error, register_check

    @register_check("orders")
    def check_currency(app_configs=None, **kwargs):
        return [] if settings_ok() else [Error("...", id="orders.E001")]
"""

from tempest.core.checks import (
    builtin as _builtin,  # noqa: F401 - registers the built-ins
    storage as _storage,  # noqa: F401 - the file storage checks
)
from tempest.core.checks.messages import (
    CRITICAL,
    DEBUG,
    ERROR,
    INFO,
    WARNING,
    CheckMessage,
    Critical,
    Debug,
    Error,
    Info,
    Warning,
)
from tempest.core.checks.placeholders import is_placeholder_secret
from tempest.core.checks.registry import CheckRegistry, Tags, register_check, registry, run_checks
from tempest.core.checks.report import CheckReport, run_system_checks

__all__ = [
    "CRITICAL",
    "DEBUG",
    "ERROR",
    "INFO",
    "WARNING",
    "CheckMessage",
    "CheckRegistry",
    "CheckReport",
    "Critical",
    "Debug",
    "Error",
    "Info",
    "Tags",
    "Warning",
    "is_placeholder_secret",
    "register_check",
    "registry",
    "run_checks",
    "run_system_checks",
]
