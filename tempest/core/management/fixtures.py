"""What ``seed``, ``dumpdata``, ``loaddata`` and ``flush`` share.

Apps and models by label, models in foreign-key order, the conversion of column values
to and from JSON, and one-line messages for database errors. Imported only when one of
these commands runs.
"""

from __future__ import annotations

import base64
import binascii
import difflib
import enum
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Table, inspect as sa_inspect
from sqlalchemy.orm import Mapper
from sqlalchemy.types import TypeDecorator

from tempest.apps import AppConfig, apps
from tempest.core.management.base import CommandError
from tempest.db.models import BaseModel

__all__ = [
    "ModelInfo",
    "database_error_message",
    "from_json_value",
    "get_apps",
    "installed_models",
    "model_info",
    "models_of_labels",
    "sort_by_dependency",
    "sorted_tables",
    "to_json_value",
    "unknown_app_message",
]


@dataclass(frozen=True)
class ModelInfo:
    """A model that owns a table, as fixtures see it.

    Attributes:
        model: The model class.
        label: ``<app_label>.<ClassName>``, the ``model`` key of fixture objects.
        table: The model's table.
        fields: Attribute name -> column, in column order, primary key included.
        primary_key: The primary key columns.
        pk_fields: Attribute names of the primary key columns.
    """

    model: type[BaseModel]
    label: str
    table: Table
    fields: dict[str, Column[Any]]
    primary_key: tuple[Column[Any], ...]
    pk_fields: tuple[str, ...]


def unknown_app_message(label: str) -> str:
    """Say that no app has ``label``, suggest the closest and list the installed ones."""
    labels = [config.label for config in apps.get_app_configs()]
    matches = difflib.get_close_matches(label, labels, n=1)
    hint = f" Did you mean {matches[0]!r}?" if matches else ""
    return (
        f"No installed app with label {label!r}.{hint} "
        f"Installed apps: {', '.join(labels) or 'none'}."
    )


def get_apps(labels: Iterable[str]) -> list[AppConfig]:
    """The apps with these labels, in INSTALLED_APPS order, or every app when none.

    Raises:
        CommandError: A label is not installed.
    """
    wanted = list(dict.fromkeys(labels))
    configs = apps.get_app_configs()
    known = {config.label for config in configs}
    for label in wanted:
        if label not in known:
            raise CommandError(unknown_app_message(label))
    if not wanted:
        return configs
    return [config for config in configs if config.label in wanted]


def model_info(model: type[BaseModel], app_label: str) -> ModelInfo | None:
    """Describe ``model`` for fixtures, or None when it does not own a plain table.

    Subclasses in an inheritance hierarchy are left out: their rows belong to the table
    of the model at the top.
    """
    mapper: Mapper[Any] = sa_inspect(model)
    table = mapper.local_table
    if mapper.inherits is not None or not isinstance(table, Table):
        return None
    fields: dict[str, Column[Any]] = {}
    for attribute in mapper.column_attrs:
        column = attribute.columns[0]
        if isinstance(column, Column) and column.table is table:
            fields[attribute.key] = column
    primary_key = tuple(table.primary_key.columns)
    by_column = {column: key for key, column in fields.items()}
    if not primary_key or any(column not in by_column for column in primary_key):
        return None
    return ModelInfo(
        model=model,
        label=f"{app_label}.{model.__name__}",
        table=table,
        fields=fields,
        primary_key=primary_key,
        pk_fields=tuple(by_column[column] for column in primary_key),
    )


def installed_models(configs: Sequence[AppConfig] | None = None) -> list[ModelInfo]:
    """Models of these apps (default: every installed app) that own a table."""
    found: list[ModelInfo] = []
    for config in configs if configs is not None else apps.get_app_configs():
        for model in apps.get_models(config.label):
            info = model_info(model, config.label)
            if info is not None:
                found.append(info)
    return found


def models_of_labels(labels: Sequence[str]) -> list[ModelInfo]:
    """The models named by ``APP`` or ``APP.Model`` labels; every model when none.

    Model names are class names, compared without regard to case.

    Raises:
        CommandError: An app label or a model name is unknown.
    """
    if not labels:
        return installed_models()
    chosen: dict[str, ModelInfo] = {}
    for label in labels:
        app_label, _, model_name = label.partition(".")
        config = get_apps([app_label])[0]
        infos = installed_models([config])
        if not model_name:
            chosen.update((info.label, info) for info in infos)
            continue
        info = find_model(infos, model_name)
        if info is None:
            raise CommandError(unknown_model_message(label, infos))
        chosen[info.label] = info
    return list(chosen.values())


def find_model(infos: Iterable[ModelInfo], model_name: str) -> ModelInfo | None:
    """The model whose class name is ``model_name`` (any case), if any."""
    wanted = model_name.lower()
    return next((info for info in infos if info.model.__name__.lower() == wanted), None)


def unknown_model_message(label: str, infos: Sequence[ModelInfo]) -> str:
    """Say that ``label`` names no model and list the models of its app."""
    app_label = label.partition(".")[0]
    names = ", ".join(info.model.__name__ for info in infos) or "none"
    return f"Unknown model {label!r}: the models of {app_label!r} are {names}."


def sort_by_dependency(infos: Iterable[ModelInfo]) -> list[ModelInfo]:
    """Models ordered so that a table comes before the tables whose foreign keys use it."""
    infos = list(infos)
    order = {table: index for index, table in enumerate(sorted_tables())}
    return sorted(infos, key=lambda info: order.get(info.table, len(order)))


def sorted_tables() -> list[Table]:
    """Every table of the models' metadata, each before the tables that refer to it."""
    import warnings

    from sqlalchemy.exc import SAWarning

    with warnings.catch_warnings():  # a foreign-key cycle: the order is then best effort
        warnings.simplefilter("ignore", SAWarning)
        return list(BaseModel.metadata.sorted_tables)


def to_json_value(value: Any, column: Column[Any] | None = None) -> Any:
    """Convert a column value to something ``json.dumps`` writes.

    UUIDs become strings, datetimes, dates and times ISO 8601 (a naive datetime from a
    timezone-aware column, as SQLite returns them, is taken as UTC), decimals strings,
    enums their value, bytes base64 and intervals seconds. Lists and dicts (JSON columns)
    are converted item by item.

    Args:
        value: What the database returned.
        column: The column it came from, if known.

    Raises:
        TypeError: The value has a type fixtures cannot represent.
    """
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, enum.Enum):
        return to_json_value(value.value)
    if isinstance(value, str):
        return value
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        if value.tzinfo is None and column is not None and _is_aware(column):
            value = value.replace(tzinfo=UTC)
        return value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, dict):
        return {str(key): to_json_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_json_value(item) for item in value]
    raise TypeError(f"values of type {type(value).__name__} cannot be written to a fixture")


def from_json_value(value: Any, column: Column[Any]) -> Any:
    """Convert a fixture value back to the Python type of ``column``.

    The reverse of :func:`to_json_value`.

    Args:
        value: The value read from JSON.
        column: The column it is meant for.

    Raises:
        ValueError: The value does not fit the column; the message says what was expected.
    """
    if value is None:
        return None
    column_type = column.type
    if isinstance(column_type, JSON):
        return value
    try:
        python_type: Any = column_type.python_type
    except NotImplementedError:
        return value
    try:
        return _convert(value, python_type, column)
    except (ValueError, TypeError, InvalidOperation, binascii.Error) as error:
        text = "" if isinstance(error, InvalidOperation) else str(error)
        detail = f" ({text})" if text and repr(value) not in text else ""
        raise ValueError(f"{value!r} is not a valid {_type_name(python_type)}{detail}") from None


def _convert(value: Any, python_type: Any, column: Column[Any]) -> Any:
    if isinstance(python_type, type) and issubclass(python_type, enum.Enum):
        return value if isinstance(value, python_type) else python_type(value)
    if python_type is bool:
        if not isinstance(value, bool):
            raise TypeError
        return value
    if python_type is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError
        return value
    if python_type is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError
        return float(value)
    if python_type is str:
        if not isinstance(value, str):
            raise TypeError
        return value
    if python_type is uuid.UUID:
        return uuid.UUID(_text(value))
    if python_type is datetime:
        parsed = datetime.fromisoformat(_text(value))
        if parsed.tzinfo is None and _is_aware(column):
            parsed = parsed.replace(tzinfo=UTC)
        return parsed
    if python_type is date:
        return date.fromisoformat(_text(value))
    if python_type is time:
        return time.fromisoformat(_text(value))
    if python_type is Decimal:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise TypeError("expected a number or a string")
        return Decimal(str(value))
    if python_type is bytes:
        return base64.b64decode(_text(value), validate=True)
    if python_type is timedelta:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError
        return timedelta(seconds=value)
    return value


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("expected a string")
    return value


def _type_name(python_type: Any) -> str:
    names = {
        uuid.UUID: "UUID",
        datetime: "ISO 8601 datetime",
        date: "ISO 8601 date",
        time: "ISO 8601 time",
        Decimal: "decimal",
        bytes: "base64 string",
        timedelta: "number of seconds",
        bool: "boolean",
        int: "integer",
        float: "number",
        str: "string",
    }
    if python_type in names:
        return names[python_type]
    return getattr(python_type, "__name__", str(python_type))


def _is_aware(column: Column[Any]) -> bool:
    column_type = column.type
    if isinstance(column_type, TypeDecorator):  # UTCDateTime
        column_type = column_type.impl_instance
    return isinstance(column_type, DateTime) and bool(column_type.timezone)


def database_error_message(error: BaseException) -> str:
    """The database's own message, on one line, without SQL or parameters."""
    original = getattr(error, "orig", None) or error
    text = str(original).strip()
    if text.startswith("<class '") and "'>: " in text:  # asyncpg's errors, as wrapped
        text = text.split("'>: ", 1)[1]
    first = text.splitlines()[0] if text else type(original).__name__
    return first.rstrip(".")
