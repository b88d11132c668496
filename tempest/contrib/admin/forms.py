"""Create and edit forms, derived from the model's column types.

:func:`form_fields` lists the fields of a model's form once (at start-up); :func:`parse_form`
turns the posted strings into column values and a message per field that is wrong. The
strings the admin typed are kept, so a form shown again with errors loses nothing.
"""

from __future__ import annotations

import enum
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Enum,
    Float,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Text,
    Uuid,
)
from sqlalchemy.types import TypeDecorator

from tempest.contrib.admin.options import AdminModel

__all__ = ["FormField", "display_value", "form_fields", "mapped_class", "parse_form"]

_INT_RANGES: list[tuple[type[Any], int]] = [(SmallInteger, 15), (BigInteger, 63), (Integer, 31)]
_TRUE = frozenset({"on", "true", "1", "yes"})


@dataclass(slots=True)
class FormField:
    """One field of a create or edit form.

    Attributes:
        name: The column's attribute name (and the form field's name).
        label: Shown next to the field.
        widget: ``text``, ``textarea``, ``number``, ``checkbox``, ``date``,
            ``datetime``, ``select``, ``json``, ``uuid``, ``fk`` or ``file`` (a
            :class:`~tempest.db.FileField`: uploaded by the views, see views/files.py).
        required: The form refuses an empty value.
        readonly: Shown, never written.
        max_length: Longest accepted text, if the column says.
        step: The ``step`` of a number field (``"1"``, ``"any"``, ``"0.01"``).
        choices: (value, label) pairs of a select.
        column: The table column.
        target: For a foreign key: the referenced model.
    """

    name: str
    label: str
    widget: str
    required: bool
    readonly: bool
    column: Column[Any]
    max_length: int | None = None
    step: str | None = None
    choices: list[tuple[str, str]] = field(default_factory=list)
    target: type[Any] | None = None


def form_fields(admin_model: AdminModel) -> list[FormField]:
    """The fields of ``admin_model``'s forms, in column order, primary key first."""
    result = []
    for key, column in admin_model.columns.items():
        foreign = next(iter(column.foreign_keys), None)
        target = mapped_class(foreign.column.table) if foreign is not None else None
        widget, extra = _widget(column)
        if target is not None:
            widget = "fk"
        has_default = column.default is not None or column.server_default is not None
        result.append(
            FormField(
                name=key,
                label=key.replace("_", " ").capitalize(),
                widget=widget,
                required=not column.nullable and not has_default and widget != "checkbox",
                readonly=admin_model.is_readonly(key),
                column=column,
                target=target,
                **extra,
            )
        )
    return result


def display_value(form_field: FormField, value: Any) -> str:
    """The text a form shows for a stored ``value``."""
    if value is None:
        return ""
    if isinstance(value, enum.Enum):
        return str(value.name)
    if isinstance(value, datetime):
        return (
            value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
            if value.tzinfo
            else (value.strftime("%Y-%m-%dT%H:%M:%S"))
        )
    if form_field.widget == "json":
        return json.dumps(value, indent=2, ensure_ascii=False)
    if isinstance(value, bool):
        return "on" if value else ""
    return str(value)


def parse_form(
    fields: list[FormField], posted: Mapping[str, str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """Convert the posted strings of the editable fields.

    Args:
        fields: The form's fields.
        posted: Field name -> the string the browser sent (absent for an unticked box).

    Returns:
        ``(values, errors)``: column values by name, and a message by field name for each
        field that could not be taken.
    """
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for item in fields:
        if item.readonly or item.widget == "file":  # files: views/files.py
            continue
        if item.widget == "checkbox":
            values[item.name] = posted.get(item.name, "").lower() in _TRUE
            continue
        raw = posted.get(item.name, "")
        text = raw if item.widget in ("textarea", "json", "text") else raw.strip()
        if text == "" or (item.widget != "text" and not text.strip()):
            if item.required:
                errors[item.name] = "This field is required."
            elif item.column.nullable:
                values[item.name] = None
            continue
        try:
            values[item.name] = _convert(item, text)
        except ValueError as error:
            errors[item.name] = str(error)
    return values, errors


def _storage_type(column: Column[Any]) -> Any:
    # A TypeDecorator (UTCDateTime) is edited as the type it decorates.
    column_type = column.type
    return column_type.impl_instance if isinstance(column_type, TypeDecorator) else column_type


def _convert(item: FormField, text: str) -> Any:
    column_type = _storage_type(item.column)
    if item.widget == "fk":
        return _fk_value(item, text)
    if isinstance(column_type, Enum) and column_type.enum_class is not None:
        members = column_type.enum_class.__members__
        if text in members:
            return members[text]
        raise ValueError(f"Choose one of: {', '.join(members)}.")
    if isinstance(column_type, Enum):
        if text in column_type.enums:
            return text
        raise ValueError(f"Choose one of: {', '.join(column_type.enums)}.")
    if isinstance(column_type, JSON):
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"Enter valid JSON ({error.msg}, line {error.lineno}).") from None
    if isinstance(column_type, Uuid):
        return _uuid(text)
    if isinstance(column_type, Boolean):
        return text.lower() in _TRUE
    if isinstance(column_type, DateTime):
        return _datetime(text, aware=bool(column_type.timezone))
    if isinstance(column_type, Date):
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise ValueError("Enter a date as YYYY-MM-DD.") from None
    if isinstance(column_type, Integer):
        return _integer(column_type, text)
    if isinstance(column_type, Float):
        return _float(text)
    if isinstance(column_type, Numeric):
        return _decimal(column_type, text)
    if isinstance(column_type, String) and column_type.length and len(text) > column_type.length:
        raise ValueError(f"Use at most {column_type.length} characters (this has {len(text)}).")
    return text


def _widget(column: Column[Any]) -> tuple[str, dict[str, Any]]:
    from tempest.db import FileField

    if isinstance(column.type, FileField):
        return "file", {}
    column_type = _storage_type(column)
    if isinstance(column_type, Enum):
        names = (
            list(column_type.enum_class.__members__)
            if column_type.enum_class is not None
            else list(column_type.enums)
        )
        return "select", {"choices": [(name, name) for name in names]}
    if isinstance(column_type, JSON):
        return "json", {}
    if isinstance(column_type, Uuid):
        return "uuid", {"max_length": 36}
    if isinstance(column_type, Boolean):
        return "checkbox", {}
    if isinstance(column_type, DateTime):
        return "datetime", {}
    if isinstance(column_type, Date):
        return "date", {}
    if isinstance(column_type, Integer):
        return "number", {"step": "1"}
    if isinstance(column_type, Float):
        return "number", {"step": "any"}
    if isinstance(column_type, Numeric):
        scale = column_type.scale
        return "number", {"step": f"{Decimal(1).scaleb(-scale)}" if scale else "any"}
    if isinstance(column_type, Text) or (
        isinstance(column_type, String) and column_type.length is None
    ):
        return "textarea", {}
    length = column_type.length if isinstance(column_type, String) else None
    return "text", {"max_length": length}


def _fk_value(item: FormField, text: str) -> Any:
    assert item.target is not None
    foreign = next(iter(item.column.foreign_keys))
    if isinstance(foreign.column.type, Uuid):
        return _uuid(text)
    if isinstance(foreign.column.type, Integer):
        return _integer(foreign.column.type, text)
    return text


def _uuid(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise ValueError("Enter a UUID such as 123e4567-e89b-12d3-a456-426614174000.") from None


def _datetime(text: str, *, aware: bool) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError("Enter a date and time as YYYY-MM-DDTHH:MM.") from None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC) if aware else value  # the form's times are UTC
    # A typed offset is converted, not dropped (SQLite keeps only the wall-clock time).
    value = value.astimezone(UTC)
    return value if aware else value.replace(tzinfo=None)


def _integer(column_type: Any, text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError("Enter a whole number.") from None
    bits = next((bits for kind, bits in _INT_RANGES if isinstance(column_type, kind)), 63)
    if not -(2**bits) <= value < 2**bits:
        raise ValueError(f"Enter a number from {-(2**bits)} to {2**bits - 1}.")
    return value


def _float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError("Enter a number.") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError("Enter a finite number.")
    return value


def _decimal(column_type: Numeric[Any], text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError("Enter a number.") from None
    if not value.is_finite():
        raise ValueError("Enter a finite number.")
    scale, precision = column_type.scale, column_type.precision
    exponent = value.as_tuple().exponent
    if scale is not None and isinstance(exponent, int) and -exponent > scale:
        raise ValueError(f"Use at most {scale} decimal places.")
    if precision is not None and scale is not None:
        digits = len(value.quantize(Decimal(1)).copy_abs().as_tuple().digits)
        if value.copy_abs() >= 1 and digits > precision - scale:
            raise ValueError(f"Use at most {precision - scale} digits before the decimal point.")
    return value


def mapped_class(table: Any) -> type[Any] | None:
    """The model class mapped to ``table``, if any."""
    from tempest.db import BaseModel

    for mapper in BaseModel.registry.mappers:
        if mapper.local_table is table:
            return mapper.class_
    return None
