"""Turn a normalizer's ``ValueError`` into a clean pydantic error for the field types."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from pydantic_core import PydanticCustomError

if TYPE_CHECKING:
    from collections.abc import Callable

_T = TypeVar("_T")


def field_check(
    normalize: Callable[[str], _T], error_type: str, message: str
) -> Callable[[str], _T]:
    """Wrap ``normalize`` for an ``AfterValidator``/``BeforeValidator``.

    Args:
        normalize: A function that returns the canonical value or raises ``ValueError``.
        error_type: The pydantic error ``type`` (``"br_cpf"``...), stable for clients and
            message catalogs.
        message: The error ``msg``; the input itself is not repeated in it.

    Returns:
        A validator raising :class:`~pydantic_core.PydanticCustomError`, which pydantic
        reports as a ``ValidationError`` (a 422 in a route), never a 500.
    """

    def check(value: str) -> _T:
        try:
            return normalize(value)
        except ValueError:
            raise PydanticCustomError(error_type, message) from None

    check.__name__ = f"check_{error_type}"
    check.__qualname__ = check.__name__
    return check
