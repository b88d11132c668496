"""Small helpers shared across tempest.

This package stays light: importing it never imports pydantic, SQLAlchemy or FastAPI, nor
bcrypt, PyJWT, pyotp, redis or psutil. The helpers that need them load on first use (PEP 562).
"""

from typing import TYPE_CHECKING, Any

from tempest._lazy import lazy_attributes
from tempest.utils.dicts import modify_dict
from tempest.utils.timezone import to_utc, utcnow

# Public name -> the module that defines it, loaded on first use. The TYPE_CHECKING block
# below imports exactly these names, and __all__ lists them (tests/test_exports.py).
_LAZY: dict[str, str] = {
    "JWTUtils": "tempest.utils.jwt",
    "PasswordUtils": "tempest.utils.passwords",
    "TOTPHelper": "tempest.utils.totp",
    "generate_opaque_token": "tempest.utils.opaque_tokens",
    "hash_opaque_token": "tempest.utils.opaque_tokens",
    "verify_opaque_token": "tempest.utils.opaque_tokens",
    "AttemptThrottle": "tempest.utils.throttle",
    "MemoryThrottleBackend": "tempest.utils.throttle",
    "RedisThrottleBackend": "tempest.utils.throttle",
    "ThrottleBackend": "tempest.utils.throttle",
    "ThrottleResult": "tempest.utils.throttle",
    "ThrottleStatus": "tempest.utils.throttle",
    "ThrottleUnavailableError": "tempest.utils.throttle",
    # Defined with the HTTP layer (it reads ASGI scopes); the spec lists it among utils.
    "get_client_ip": "tempest.utils.client_ip",
    "get_client_ip_from_scope": "tempest.utils.client_ip",
    "CPUMetrics": "tempest.utils.metrics",
    "DiskMetrics": "tempest.utils.metrics",
    "GPUMetrics": "tempest.utils.metrics",
    "MemoryMetrics": "tempest.utils.metrics",
    "MetricsUtils": "tempest.utils.metrics",
    "SystemMetrics": "tempest.utils.metrics",
}


__all__ = ["modify_dict", "to_utc", "utcnow", *_LAZY]

_load = lazy_attributes(__name__, _LAZY)


def __getattr__(name: str) -> Any:
    return _load(name)


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:  # pragma: no cover - the table's names, for type checkers and IDEs
    from tempest.utils.client_ip import (
        get_client_ip as get_client_ip,
        get_client_ip_from_scope as get_client_ip_from_scope,
    )
    from tempest.utils.jwt import JWTUtils as JWTUtils
    from tempest.utils.metrics import (
        CPUMetrics as CPUMetrics,
        DiskMetrics as DiskMetrics,
        GPUMetrics as GPUMetrics,
        MemoryMetrics as MemoryMetrics,
        MetricsUtils as MetricsUtils,
        SystemMetrics as SystemMetrics,
    )
    from tempest.utils.opaque_tokens import (
        generate_opaque_token as generate_opaque_token,
        hash_opaque_token as hash_opaque_token,
        verify_opaque_token as verify_opaque_token,
    )
    from tempest.utils.passwords import PasswordUtils as PasswordUtils
    from tempest.utils.throttle import (
        AttemptThrottle as AttemptThrottle,
        MemoryThrottleBackend as MemoryThrottleBackend,
        RedisThrottleBackend as RedisThrottleBackend,
        ThrottleBackend as ThrottleBackend,
        ThrottleResult as ThrottleResult,
        ThrottleStatus as ThrottleStatus,
        ThrottleUnavailableError as ThrottleUnavailableError,
    )
    from tempest.utils.totp import TOTPHelper as TOTPHelper
