"""``BaseStrEnum`` and ``BaseIntEnum``: enums that cross the API and database boundaries.

Both inherit from ``str`` / ``int`` (through :class:`enum.StrEnum` / :class:`enum.IntEnum`),
so pydantic serialises a member as its value and SQLAlchemy's ``Enum`` column type stores
it without a converter. Membership accepts raw values: ``"paid" in OrderStatus``.
"""

from __future__ import annotations

from enum import EnumType, IntEnum, StrEnum
from typing import Generic, TypeVar

__all__ = ["BaseIntEnum", "BaseStrEnum"]

_V = TypeVar("_V", str, int)


def _humanize(name: str) -> str:
    return name.replace("_", " ").capitalize()


class _ValueLookupEnumType(EnumType):
    """Enum metaclass whose ``in`` operator answers by value lookup."""

    def __contains__(cls, member: object) -> bool:
        """Whether ``cls(member)`` would return a member; never raises.

        Members and raw values equal to a member's value are contained (so, as with the
        lookup, ``True in Priority`` when a member's value is ``1``); unknown and
        unhashable values are not.
        """
        try:
            cls(member)
        except (ValueError, TypeError):
            return False
        return True


class _Choices(Generic[_V]):
    """``label``, ``values()`` and ``choices()``, shared by both base enums."""

    name: str
    value: _V

    @property
    def label(self) -> str:
        """A human-readable name: ``NOT_STARTED`` becomes ``"Not started"``.

        Override the property in a subclass for translated or custom labels.
        """
        return _humanize(self.name)

    @classmethod
    def values(cls) -> list[_V]:
        """Return every member's value, in definition order."""
        return [member.value for member in cls._members()]

    @classmethod
    def choices(cls) -> list[tuple[_V, str]]:
        """Return ``(value, label)`` pairs, in definition order, e.g. for a select box."""
        return [(member.value, member.label) for member in cls._members()]

    @classmethod
    def _members(cls) -> list[_Choices[_V]]:
        members: list[_Choices[_V]] = list(cls)  # type: ignore[call-overload]
        return members


class BaseStrEnum(_Choices[str], StrEnum, metaclass=_ValueLookupEnumType):
    """A string enum: members are ``str`` and compare equal to their values.

    Example::

        class OrderStatus(BaseStrEnum):
            PENDING = "pending"
            PAID = "paid"

        assert OrderStatus.PAID == "paid"
        assert "paid" in OrderStatus
        assert OrderStatus("paid") is OrderStatus.PAID
        assert OrderStatus.choices() == [("pending", "Pending"), ("paid", "Paid")]
    """


class BaseIntEnum(_Choices[int], IntEnum, metaclass=_ValueLookupEnumType):
    """An integer enum: members are ``int``, compare equal to and do arithmetic as ints.

    Example::

        class Priority(BaseIntEnum):
            LOW = 0
            HIGH = 1

        assert Priority.LOW + 1 == Priority.HIGH
        assert 1 in Priority
    """
