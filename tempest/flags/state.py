"""One flag's value (:class:`FlagState`), how values are written, and rollout buckets.

A flag is on, off, or on for a percentage of subjects (a gradual rollout). The subject
(a user id, a tenant, a device...) is put in one of :data:`BUCKETS` buckets by a hash of
the flag's name and the subject, so the answer for a subject is the same in every process,
on every host and after every restart, and widening a rollout from 25% to 50% keeps the
first 25% in.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping
from typing import Any

__all__ = [
    "BUCKETS",
    "FlagState",
    "InvalidFlagError",
    "bucket_of",
    "check_flag_name",
    "coerce_flag",
    "parse_percentage",
]

BUCKETS = 10_000
"""Rollout buckets: a percentage is honoured to 0.01%."""

_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,99}")
_TRUE = frozenset({"1", "true", "on", "yes", "enabled", "enable"})
_FALSE = frozenset({"0", "false", "off", "no", "disabled", "disable"})


class InvalidFlagError(ValueError):
    """A flag name or value that tempest cannot use; the message says what to write."""


def check_flag_name(name: object) -> str:
    """Validate a flag name: lower-case letters, digits, ``_``, ``-`` and ``.``.

    Names start with a letter or a digit and have at most 100 characters, so that they
    fit in Redis keys, environment variables and URLs unchanged.

    Args:
        name: The candidate name.

    Returns:
        ``name``, unchanged.

    Raises:
        InvalidFlagError: Anything else (spaces, upper case, ``:``, ``*``, empty...).
    """
    if isinstance(name, str) and _NAME.fullmatch(name):
        return name
    raise InvalidFlagError(
        f"invalid flag name {name!r}: use 1 to 100 lower-case letters, digits, '_', '-' "
        "and '.', starting with a letter or a digit (e.g. 'new-checkout')"
    )


def parse_percentage(value: object) -> float:
    """A rollout percentage from a number or a string such as ``"25"`` or ``"12.5%"``.

    Raises:
        InvalidFlagError: Not a number, or outside 0 to 100.
    """
    number: float
    if isinstance(value, bool):
        raise InvalidFlagError(f"a percentage is a number from 0 to 100, not {value!r}")
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        text = value.strip().removesuffix("%").strip()
        try:
            number = float(text)
        except ValueError:
            raise InvalidFlagError(
                f"a percentage is a number from 0 to 100, not {value!r}"
            ) from None
    else:
        raise InvalidFlagError(f"a percentage is a number from 0 to 100, not {value!r}")
    if not math.isfinite(number) or not 0 <= number <= 100:
        raise InvalidFlagError(f"percentage {value!r} is outside 0 to 100")
    return number


def bucket_of(name: str, subject: object) -> int:
    """The rollout bucket of ``subject`` for flag ``name``, in ``range(BUCKETS)``.

    The first 8 bytes of SHA-256 over ``"<name>:<subject>"`` (UTF-8), big-endian, modulo
    :data:`BUCKETS`: stable across processes, hosts, restarts and Python versions (unlike
    ``hash()``), and reproducible in any language.

    Args:
        name: The flag.
        subject: Whatever identifies the subject; ``str(subject)`` is hashed.
    """
    digest = hashlib.sha256(f"{name}:{subject}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


class FlagState:
    """A flag's value: on or off, and the share of subjects it is on for.

    Attributes:
        enabled: False: off for everyone.
        percentage: With ``enabled``, the share of subjects (0 to 100) it is on for;
            100 is everyone, and a flag evaluated without a subject is on only at 100.
    """

    __slots__ = ("_threshold", "enabled", "percentage")

    def __init__(self, enabled: bool, percentage: float = 100.0) -> None:
        """Build a state; ``percentage`` is checked (0 to 100).

        Raises:
            InvalidFlagError: ``percentage`` is outside 0 to 100.
        """
        self.enabled = bool(enabled)
        self.percentage = parse_percentage(percentage)
        # Buckets below the threshold are in: computed once, compared per evaluation.
        self._threshold = round(self.percentage * BUCKETS / 100) if self.enabled else 0

    def evaluate(self, name: str, subject: object = None) -> bool:
        """Whether flag ``name`` in this state is on for ``subject``.

        Args:
            name: The flag's name (part of the bucket's hash).
            subject: Who asks; ``None`` is nobody in particular (on only at 100%).
        """
        threshold = self._threshold
        if threshold >= BUCKETS:
            return True
        if threshold <= 0 or subject is None:
            return False
        return bucket_of(name, subject) < threshold

    @property
    def is_rollout(self) -> bool:
        """On for some subjects only (0 < percentage < 100)."""
        return self.enabled and 0 < self._threshold < BUCKETS

    def describe(self) -> str:
        """``"on"``, ``"off"`` or ``"25%"``."""
        if not self.enabled:
            return "off"
        if self.percentage >= 100:
            return "on"
        return f"{self.percentage:g}%"

    def to_dict(self) -> dict[str, Any]:
        """``{"enabled": ..., "percentage": ...}``: how the Redis backend stores it."""
        return {"enabled": self.enabled, "percentage": self.percentage}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FlagState):
            return NotImplemented
        return (self.enabled, self.percentage) == (other.enabled, other.percentage)

    def __hash__(self) -> int:
        return hash((self.enabled, self.percentage))

    def __repr__(self) -> str:
        return f"FlagState(enabled={self.enabled!r}, percentage={self.percentage:g})"


def coerce_flag(value: object) -> FlagState:
    """Read a flag's value as settings, the environment or a store write it.

    | value | state |
    | --- | --- |
    | ``True`` / ``False`` | on / off |
    | ``"on"``, ``"true"``, ``"yes"``, ``"1"``, ``"enabled"`` (any case) | on |
    | ``"off"``, ``"false"``, ``"no"``, ``"0"``, ``"disabled"`` | off |
    | ``"25%"`` (a string with ``%``) or a number ``25`` / ``12.5`` | on for that share |
    | ``{"enabled": True, "percentage": 25}`` | as written |
    | a :class:`FlagState` | itself |

    Args:
        value: The value to read.

    Returns:
        The state.

    Raises:
        InvalidFlagError: Anything else, or a percentage outside 0 to 100; the message
            lists what is accepted.
    """
    if isinstance(value, FlagState):
        return value
    if isinstance(value, bool):
        return FlagState(value)
    if isinstance(value, int | float):
        return FlagState(True, parse_percentage(value))
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return FlagState(True)
        if text in _FALSE:
            return FlagState(False)
        if text.endswith("%"):
            return FlagState(True, parse_percentage(text))
    if isinstance(value, Mapping):
        enabled = value.get("enabled", True)
        if isinstance(enabled, bool) and set(value) <= {"enabled", "percentage"}:
            return FlagState(enabled, parse_percentage(value.get("percentage", 100.0)))
    raise InvalidFlagError(
        f"cannot read {value!r} as a flag: write on/off (true/false, yes/no, 1/0), a "
        "percentage such as '25%', or {'enabled': true, 'percentage': 25}"
    )
