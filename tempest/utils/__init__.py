"""Small helpers shared across tempest.

This package stays light: importing it never imports pydantic, SQLAlchemy or FastAPI, nor
bcrypt, PyJWT, pyotp, redis or psutil. The helpers that need them load on first use (PEP 562).
"""

from typing import TYPE_CHECKING, Any

from tempest._lazy import lazy_attributes
from tempest.utils.dicts import modify_dict
from tempest.utils.timezone import to_utc, utcnow

if TYPE_CHECKING:
    from tempest.utils.client_ip import get_client_ip, get_client_ip_from_scope
    from tempest.utils.jwt import JWTUtils
    from tempest.utils.metrics import (
        CPUMetrics,
        DiskMetrics,
        GPUMetrics,
        MemoryMetrics,
        MetricsUtils,
        SystemMetrics,
    )
    from tempest.utils.opaque_tokens import (
        generate_opaque_token,
        hash_opaque_token,
        verify_opaque_token,
    )
    from tempest.utils.passwords import PasswordUtils
    from tempest.utils.throttle import (
        AttemptThrottle,
        MemoryThrottleBackend,
        RedisThrottleBackend,
        ThrottleBackend,
        ThrottleResult,
        ThrottleStatus,
        ThrottleUnavailableError,
    )
    from tempest.utils.totp import TOTPHelper

__all__ = [
    "AttemptThrottle",
    "CPUMetrics",
    "DiskMetrics",
    "GPUMetrics",
    "JWTUtils",
    "MemoryMetrics",
    "MemoryThrottleBackend",
    "MetricsUtils",
    "PasswordUtils",
    "RedisThrottleBackend",
    "SystemMetrics",
    "TOTPHelper",
    "ThrottleBackend",
    "ThrottleResult",
    "ThrottleStatus",
    "ThrottleUnavailableError",
    "generate_opaque_token",
    "get_client_ip",
    "get_client_ip_from_scope",
    "hash_opaque_token",
    "modify_dict",
    "to_utc",
    "utcnow",
    "verify_opaque_token",
]

_LAZY = {
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


_load = lazy_attributes(__name__, _LAZY)


def __getattr__(name: str) -> Any:
    return _load(name)


def __dir__() -> list[str]:
    return sorted(__all__)
