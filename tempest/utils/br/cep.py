"""CEP (Brazilian postal code): pattern, validator, normalizer and pydantic field type.

A CEP has 8 digits, written ``01310-100`` or ``01310100`` (the old ``01.310-100`` is
accepted too). It has no check digit, so validation is the shape alone: whether a CEP is
assigned to a street only the Correios' database can tell.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

from tempest.utils.br._fields import field_check
from tempest.utils.br.documents import only_digits

__all__ = ["CEP", "CEP_PATTERN", "is_valid_cep", "normalize_cep"]

CEP_PATTERN = re.compile(r"^[0-9]{2}\.?[0-9]{3}-?[0-9]{3}\Z")
"""A CEP's shape, masked (``00000-000``) or not."""


def is_valid_cep(value: str) -> bool:
    """Whether ``value`` has a CEP's shape (whitespace around it ignored).

    Args:
        value: ``"01310-100"``, ``"01310100"``...

    Returns:
        True for 8 digits, masked or not; False for anything else.
    """
    return isinstance(value, str) and CEP_PATTERN.match(value.strip()) is not None


def normalize_cep(value: str) -> str:
    """Validate a CEP and return its 8 digits.

    Args:
        value: Masked or not.

    Returns:
        ``"01310100"``.

    Raises:
        ValueError: ``value`` is not shaped as a CEP.
    """
    if not is_valid_cep(value):
        raise ValueError("not a valid CEP")
    return only_digits(value)


CEP = Annotated[str, AfterValidator(field_check(normalize_cep, "br_cep", "Not a valid CEP"))]
"""A pydantic field type: a CEP, stored as its 8 digits."""
