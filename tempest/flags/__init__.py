"""Feature flags: on, off or on for a percentage of subjects, the same in every process.

Flags are evaluated from a snapshot in each process (no I/O per evaluation); a change made
through the Redis backend or ``manage.py flags`` reaches every process within a second
(pub/sub). See docs/topics/feature-flags.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tempest._lazy import lazy_attributes

# Public name -> module that defines it, loaded on first use. The TYPE_CHECKING block
# below imports exactly these names, and __all__ lists them (tests/test_exports.py).
_LAZY: dict[str, str] = {
    "FeatureFlags": "tempest.flags.feature_flags",
    "FeatureFlagBackend": "tempest.flags.backends",
    "MemoryFeatureFlagBackend": "tempest.flags.backends",
    "EnvFeatureFlagBackend": "tempest.flags.backends",
    "CompositeFeatureFlagBackend": "tempest.flags.backends",
    "ReadOnlyFlagBackendError": "tempest.flags.backends",
    "RedisFeatureFlagBackend": "tempest.flags.redis_backend",
    "FlagState": "tempest.flags.state",
    "InvalidFlagError": "tempest.flags.state",
    "bucket_of": "tempest.flags.state",
    "coerce_flag": "tempest.flags.state",
    "FeatureDisabledException": "tempest.flags.dependency",
    "make_flag_dependency": "tempest.flags.dependency",
    "get_flags": "tempest.flags.project",
}

__all__ = [*_LAZY]

_load = lazy_attributes(__name__, _LAZY)


def __getattr__(name: str) -> Any:
    return _load(name)


if TYPE_CHECKING:  # pragma: no cover - the table's names, for type checkers and IDEs
    from tempest.flags.backends import (
        CompositeFeatureFlagBackend as CompositeFeatureFlagBackend,
        EnvFeatureFlagBackend as EnvFeatureFlagBackend,
        FeatureFlagBackend as FeatureFlagBackend,
        MemoryFeatureFlagBackend as MemoryFeatureFlagBackend,
        ReadOnlyFlagBackendError as ReadOnlyFlagBackendError,
    )
    from tempest.flags.dependency import (
        FeatureDisabledException as FeatureDisabledException,
        make_flag_dependency as make_flag_dependency,
    )
    from tempest.flags.feature_flags import FeatureFlags as FeatureFlags
    from tempest.flags.project import get_flags as get_flags
    from tempest.flags.redis_backend import RedisFeatureFlagBackend as RedisFeatureFlagBackend
    from tempest.flags.state import (
        FlagState as FlagState,
        InvalidFlagError as InvalidFlagError,
        bucket_of as bucket_of,
        coerce_flag as coerce_flag,
    )
