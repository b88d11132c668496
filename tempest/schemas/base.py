"""``BaseSchema``: the pydantic base of every tempest schema."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from tempest.utils.dicts import modify_dict

__all__ = ["BaseSchema"]


class BaseSchema(BaseModel):
    r"""Base class for request and response schemas.

    Configured to read ORM objects (``from_attributes``), to accept field names as well
    as aliases (``populate_by_name``) and to strip surrounding whitespace from strings.

    Lengths are checked after stripping, so a string field with ``min_length=k`` refuses
    ``"   "``; its JSON schema says so with a ``pattern`` that needs ``k`` characters
    from the first non-space one to the last (``\S`` for ``k=1``), for clients and
    schema-driven tests. ``maxLength`` stays the raw limit: stricter than the check.
    """

    model_config = ConfigDict(
        from_attributes=True,
        populate_by_name=True,
        str_strip_whitespace=True,
    )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        """Add the after-stripping length to the string properties' schemas."""
        json_schema = handler(core_schema)
        if not cls.model_config.get("str_strip_whitespace"):
            return json_schema
        target = handler.resolve_ref_schema(json_schema)
        properties = target.get("properties", {})
        for name, field in cls.model_fields.items():
            prop = properties.get(field.alias or name)
            stripped = all(
                getattr(rule, "strip_whitespace", None) is not False for rule in field.metadata
            )
            if prop is not None and stripped:
                for option in (prop, *prop.get("anyOf", ())):
                    _require_non_space(option)
        return json_schema

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


def _require_non_space(schema: dict[str, Any]) -> None:
    """``minLength: k`` on a stripped string: require k characters between non-spaces."""
    minimum = schema.get("minLength")
    if schema.get("type") != "string" or not minimum or "pattern" in schema:
        return
    schema["pattern"] = r"\S" if minimum == 1 else rf"\S[\s\S]{{{minimum - 2},}}\S"
