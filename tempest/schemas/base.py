"""``BaseSchema``: the pydantic base of every tempest schema."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from tempest.utils.dicts import modify_dict

__all__ = ["BaseSchema"]


class BaseSchema(BaseModel):
    """Base class for request and response schemas.

    Configured to read ORM objects (``from_attributes``), to accept field names as well
    as aliases (``populate_by_name``) and to strip surrounding whitespace from strings.
    """

    model_config = ConfigDict(
        from_attributes=True,
        populate_by_name=True,
        str_strip_whitespace=True,
    )

    def to_dict(
        self,
        exclude: Iterable[str] | None = None,
        include: Mapping[str, Any] | None = None,
        *,
        exclude_none: bool = True,
    ) -> dict[str, Any]:
        """Return the fields as a plain dict, e.g. to build or update an ORM model.

        Fields whose value is ``None`` are left out by default, so that an update schema
        whose fields are all optional yields only the values the client sent. Pass
        ``exclude_none=False`` to keep them; to tell "sent as null" from "not sent", use
        ``model_dump(exclude_unset=True)``. Values keep their Python types (``UUID``,
        ``datetime``, ...); keys are field names, not aliases.

        Args:
            exclude: Top-level field names to leave out, e.g. ``["password"]``.
            include: Keys to add or override (wins over the fields and ``exclude``).
            exclude_none: Leave out fields whose value is ``None``.

        Returns:
            A new dict.
        """
        return modify_dict(self.model_dump(exclude_none=exclude_none), exclude, include)
