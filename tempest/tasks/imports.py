"""Import TaskIQ lazily, naming the extra to install when it is missing."""

from __future__ import annotations

from importlib import import_module
from types import ModuleType

EXTRA_HINT = 'pip install "tempest-framework[tasks]"'


def require(module: str) -> ModuleType:
    """Import an optional module of the ``tasks`` battery.

    Args:
        module: Dotted module name (``taskiq``, ``taskiq_aio_pika``, ``taskiq_redis``).

    Returns:
        The module.

    Raises:
        ImportError: The module is not installed; the message names the extra.
    """
    try:
        return import_module(module)
    except ImportError as error:
        raise ImportError(
            f"tempest's background tasks need {module.split('.')[0]!r}: {EXTRA_HINT}"
        ) from error
