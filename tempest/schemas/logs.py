"""``LogEntrySchema``: one record written by :class:`tempest.core.logging.JSONFormatter`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ConfigDict, Field, field_validator, model_validator

from tempest.schemas.base import BaseSchema
from tempest.utils.timezone import to_utc

__all__ = ["LogEntrySchema"]


class LogEntrySchema(BaseSchema):
    """One JSON log line, parsed.

    The formatter writes the fields passed through ``extra=`` at the top level of the
    line; validation gathers every key that is not a field below into ``extra``, so
    ``LogEntrySchema.model_validate_json(line)`` reads a line as written. Text is kept
    verbatim (no whitespace stripping).

    Attributes:
        timestamp: When the record was made (UTC).
        level: Level name, e.g. ``"ERROR"``.
        logger: Name of the logger.
        message: The formatted message.
        request_id: ID of the request being served, if any.
        exception: Formatted traceback, if the record carried one.
        stack: Formatted stack, if the record asked for one.
        extra: Every other field of the line.
    """

    model_config = ConfigDict(str_strip_whitespace=False)

    timestamp: datetime
    level: str
    logger: str
    message: str
    request_id: str | None = None
    exception: str | None = None
    stack: str | None = None
    extra: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _gather_extra(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        known = set(cls.model_fields) - {"extra"}
        extra = {key: value for key, value in data.items() if key not in known}
        nested = extra.pop("extra", None)
        if isinstance(nested, dict):
            extra = {**nested, **extra}
        elif nested is not None:
            extra["extra"] = nested
        return {**{key: data[key] for key in known if key in data}, "extra": extra}

    @field_validator("timestamp")
    @classmethod
    def _normalise_to_utc(cls, value: datetime) -> datetime:
        return to_utc(value)
