"""Brazilian phone numbers: pattern, validator, normalizer and pydantic field type.

A number is a subscriber number of 8 digits (a landline, or an old-style mobile) or of 9
digits starting with 9 (a mobile), optionally preceded by a two-digit area code (DDD, in
parentheses or not) and, before that, by the country code ``+55``. Spaces, dots and hyphens
may separate the groups. The DDD must be one in use (11-19, 21, 22, 24, ... 99), and once the
country code is written the DDD must be too.

Normalizing keeps what was written, as digits: ``"+55 (11) 98888-7777"`` becomes
``"5511988887777"`` and ``"(11) 98888-7777"`` becomes ``"11988887777"``.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

from tempest.utils.br._fields import field_check
from tempest.utils.br.documents import only_digits

__all__ = ["PHONE_BR_PATTERN", "PhoneBR", "is_valid_phone_br", "normalize_phone_br"]

PHONE_BR_PATTERN = re.compile(
    r"^(?:\+?55[ .-]?)?"  # country code
    r"(?:(?:\([1-9]{2}\)|[1-9]{2})[ .-]?)?"  # area code (DDD)
    r"(?:9[ .-]?)?[0-9]{4}[ .-]?[0-9]{4}\Z"  # subscriber, with the mobile's leading 9
)
"""A Brazilian phone number's shape: optional ``+55``, optional DDD, optional 9th digit."""

# The area codes (DDD) ANATEL assigns; 20, 23, 25, 26, 29, 30, 36, 39, 40, 50, 52, 56-60,
# 70, 72, 76, 78, 80 and 90 are not in use.
_DDDS = frozenset(
    {11, 12, 13, 14, 15, 16, 17, 18, 19, 21, 22, 24, 27, 28}
    | {31, 32, 33, 34, 35, 37, 38, 41, 42, 43, 44, 45, 46, 47, 48, 49}
    | {51, 53, 54, 55, 61, 62, 63, 64, 65, 66, 67, 68, 69}
    | {71, 73, 74, 75, 77, 79, 81, 82, 83, 84, 85, 86, 87, 88, 89}
    | {91, 92, 93, 94, 95, 96, 97, 98, 99}
)


def _subscriber_ok(digits: str) -> bool:
    if len(digits) == 9:
        return digits[0] == "9"
    return len(digits) == 8 and digits[0] not in "01"


def _national_ok(digits: str, *, needs_ddd: bool) -> bool:
    """Whether ``digits`` (no country code) is a subscriber number, with a DDD if needed."""
    if len(digits) in (10, 11):
        return int(digits[:2]) in _DDDS and _subscriber_ok(digits[2:])
    return not needs_ddd and _subscriber_ok(digits)


def _bare_phone(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    text = value.strip()
    if PHONE_BR_PATTERN.match(text) is None:
        return None
    digits = only_digits(text)
    if text.startswith("+") or len(digits) > 11:
        # The country code is written: the DDD must be too.
        ok = digits.startswith("55") and _national_ok(digits[2:], needs_ddd=True)
        ok = ok and len(digits) in (12, 13)
    else:
        ok = _national_ok(digits, needs_ddd=False)
    return digits if ok else None


def is_valid_phone_br(value: str) -> bool:
    """Whether ``value`` is a Brazilian phone number (see the module's docstring).

    Args:
        value: ``"+55 (11) 98888-7777"``, ``"11 3333-4444"``, ``"98888-7777"``...

    Returns:
        True when its shape, its DDD and its subscriber number are right.
    """
    return _bare_phone(value) is not None


def normalize_phone_br(value: str) -> str:
    """Validate a Brazilian phone number and return its digits.

    Args:
        value: Masked or not.

    Returns:
        The digits as written, country code and DDD included when present
        (``"5511988887777"``).

    Raises:
        ValueError: ``value`` is not a Brazilian phone number.
    """
    bare = _bare_phone(value)
    if bare is None:
        raise ValueError("not a valid Brazilian phone number")
    return bare


PhoneBR = Annotated[
    str,
    AfterValidator(
        field_check(normalize_phone_br, "br_phone", "Not a valid Brazilian phone number")
    ),
]
"""A pydantic field type: a Brazilian phone number, stored as its digits."""
