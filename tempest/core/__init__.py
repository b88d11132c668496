"""Core of the framework: command line, checks, ASGI app, logging and context.

The spec's ``core`` names (logging, the request ID context, the base enums) are importable
from here, loaded on first use (PEP 562): ``from tempest.core import get_request_id``.
"""

from typing import TYPE_CHECKING, Any

from tempest._lazy import lazy_attributes

# Public name -> the module that defines it, loaded on first use. The TYPE_CHECKING block
# below imports exactly these names, and __all__ lists them (tests/test_exports.py).
_LAZY: dict[str, str] = {
    "configure_logging": "tempest.core.logging",
    "JSONFormatter": "tempest.core.logging",
    "get_request_id": "tempest.core.context",
    "set_request_id": "tempest.core.context",
    "clear_request_id": "tempest.core.context",
    "request_id_ctx": "tempest.core.context",
    "BaseStrEnum": "tempest.core.enums",
    "BaseIntEnum": "tempest.core.enums",
}

__all__ = [*_LAZY]

_load = lazy_attributes(__name__, _LAZY)


def __getattr__(name: str) -> Any:
    return _load(name)


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:  # pragma: no cover - the table's names, for type checkers and IDEs
    from tempest.core.context import (
        clear_request_id as clear_request_id,
        get_request_id as get_request_id,
        request_id_ctx as request_id_ctx,
        set_request_id as set_request_id,
    )
    from tempest.core.enums import BaseIntEnum as BaseIntEnum, BaseStrEnum as BaseStrEnum
    from tempest.core.logging import (
        JSONFormatter as JSONFormatter,
        configure_logging as configure_logging,
    )
