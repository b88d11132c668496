"""CPF and CNPJ: patterns, check digits, normalizers and pydantic field types.

A CPF (individual taxpayer number) has 11 digits, the last two check digits; a CNPJ
(company number) 14 characters, the last two check digits. From July 2026 the Receita
Federal also issues *alphanumeric* CNPJs: the first 12 positions may hold letters A-Z,
each worth ``ord(char) - 48`` in the same modulo-11 computation (a digit keeps its value),
and the check digits stay numeric. Both CNPJ forms are accepted here.

Input may be masked (``529.982.247-25``, ``12.ABC.345/01DE-35``) or not, with whitespace
around it; normalizing returns the bare form: the digits of a CPF, the 14 characters of a
CNPJ with letters upper-cased. Sequences of one repeated digit (``111.111.111-11``) pass the
arithmetic but are refused, as everywhere.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

from tempest.utils.br._fields import field_check

__all__ = [
    "CNPJ",
    "CNPJ_PATTERN",
    "CPF",
    "CPF_CNPJ_PATTERN",
    "CPF_PATTERN",
    "CPFOrCNPJ",
    "is_valid_cnpj",
    "is_valid_cpf",
    "is_valid_cpf_cnpj",
    "normalize_cnpj",
    "normalize_cpf",
    "normalize_cpf_cnpj",
    "only_digits",
]

_CPF = r"[0-9]{3}\.?[0-9]{3}\.?[0-9]{3}-?[0-9]{2}"
_CNPJ = r"[0-9A-Za-z]{2}\.?[0-9A-Za-z]{3}\.?[0-9A-Za-z]{3}/?[0-9A-Za-z]{4}-?[0-9]{2}"

CPF_PATTERN = re.compile(rf"^{_CPF}\Z")
"""A CPF's shape, masked (``000.000.000-00``) or not; each separator is optional."""

CNPJ_PATTERN = re.compile(rf"^{_CNPJ}\Z")
"""A CNPJ's shape, numeric or alphanumeric, masked (``00.000.000/0000-00``) or not."""

CPF_CNPJ_PATTERN = re.compile(rf"^(?:{_CPF}|{_CNPJ})\Z")
"""Either shape."""

_NOT_DIGITS = re.compile(r"[^0-9]")
_NOT_ALNUM = re.compile(r"[^0-9A-Za-z]")


def only_digits(value: str) -> str:
    """Strip every character that is not an ASCII digit.

    Args:
        value: Any text (``"+55 (11) 98888-7777"``).

    Returns:
        Its digits, in order (``"5511988887777"``).
    """
    return _NOT_DIGITS.sub("", value)


def _check_digit(chars: str) -> int:
    """The modulo-11 check digit of ``chars`` (weights 2, 3... from the right)."""
    total = sum((ord(char) - 48) * (2 + index) for index, char in enumerate(reversed(chars)))
    remainder = total % 11
    return 0 if remainder < 2 else 11 - remainder


def _cnpj_check_digit(chars: str) -> int:
    """A CNPJ's check digit: weights 2 to 9 from the right, then again from 2."""
    total = sum((ord(char) - 48) * (2 + index % 8) for index, char in enumerate(reversed(chars)))
    remainder = total % 11
    return 0 if remainder < 2 else 11 - remainder


def _bare_cpf(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    text = value.strip()
    if CPF_PATTERN.match(text) is None:
        return None
    digits = only_digits(text)
    if len(set(digits)) == 1:
        return None
    first = _check_digit(digits[:9])
    if int(digits[9]) != first or int(digits[10]) != _check_digit(digits[:10]):
        return None
    return digits


def _bare_cnpj(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    text = value.strip()
    if CNPJ_PATTERN.match(text) is None:
        return None
    chars = _NOT_ALNUM.sub("", text).upper()
    if len(set(chars)) == 1:
        return None
    first = _cnpj_check_digit(chars[:12])
    if int(chars[12]) != first or int(chars[13]) != _cnpj_check_digit(chars[:13]):
        return None
    return chars


def is_valid_cpf(value: str) -> bool:
    """Whether ``value`` is a CPF: its shape, then both check digits.

    Args:
        value: Masked (``"529.982.247-25"``) or bare (``"52998224725"``).

    Returns:
        True for a valid CPF; False for anything else (other types included).
    """
    return _bare_cpf(value) is not None


def is_valid_cnpj(value: str) -> bool:
    """Whether ``value`` is a CNPJ, numeric or alphanumeric: shape and check digits.

    Args:
        value: Masked (``"11.222.333/0001-81"``) or bare; letters in either case.

    Returns:
        True for a valid CNPJ; False for anything else.
    """
    return _bare_cnpj(value) is not None


def is_valid_cpf_cnpj(value: str) -> bool:
    """Whether ``value`` is a valid CPF or a valid CNPJ."""
    return _bare_cpf(value) is not None or _bare_cnpj(value) is not None


def normalize_cpf(value: str) -> str:
    """Validate a CPF and return its 11 digits.

    Args:
        value: Masked or bare, whitespace around it ignored.

    Returns:
        The digits only: ``"52998224725"``.

    Raises:
        ValueError: ``value`` is not a valid CPF.
    """
    bare = _bare_cpf(value)
    if bare is None:
        raise ValueError("not a valid CPF")
    return bare


def normalize_cnpj(value: str) -> str:
    """Validate a CNPJ and return its 14 characters, letters upper-cased.

    Args:
        value: Masked or bare, numeric or alphanumeric.

    Returns:
        The bare form: ``"11222333000181"``, ``"12ABC34501DE35"``.

    Raises:
        ValueError: ``value`` is not a valid CNPJ.
    """
    bare = _bare_cnpj(value)
    if bare is None:
        raise ValueError("not a valid CNPJ")
    return bare


def normalize_cpf_cnpj(value: str) -> str:
    """Validate a CPF or a CNPJ and return its bare form (11 or 14 characters).

    Raises:
        ValueError: ``value`` is neither.
    """
    bare = _bare_cpf(value) or _bare_cnpj(value)
    if bare is None:
        raise ValueError("not a valid CPF or CNPJ")
    return bare


CPF = Annotated[str, AfterValidator(field_check(normalize_cpf, "br_cpf", "Not a valid CPF"))]
"""A pydantic field type: a valid CPF, stored as its 11 digits."""

CNPJ = Annotated[str, AfterValidator(field_check(normalize_cnpj, "br_cnpj", "Not a valid CNPJ"))]
"""A pydantic field type: a valid CNPJ (numeric or alphanumeric), stored bare."""

CPFOrCNPJ = Annotated[
    str,
    AfterValidator(field_check(normalize_cpf_cnpj, "br_cpf_cnpj", "Not a valid CPF or CNPJ")),
]
"""A pydantic field type: a valid CPF or CNPJ, stored bare (11 or 14 characters)."""
