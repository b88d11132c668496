"""Snapshots of rows and their differences, as the audit trail stores them.

A snapshot is a row's column values as JSON-ready values (UUIDs, dates, decimals and
enums as text), without the columns that must never be stored: those a model lists in
``__audit_exclude__`` (a subclass adds to its parents' list), those whose name says they
hold a secret (containing ``password`` or ``secret``, or ending in ``_hash``) and
``updated_at`` (the audit row's own ``created_at`` says when).
"""

from __future__ import annotations

import enum
import json
import uuid
from collections.abc import Collection, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Table, inspect
from sqlalchemy.orm.base import NO_VALUE

from tempest.exceptions import ImproperlyConfigured

__all__ = [
    "ALWAYS_EXCLUDED",
    "audit_exclusions",
    "audited_table",
    "committed_snapshot",
    "diff_snapshots",
    "json_value",
    "pk_text",
    "row_pk_text",
    "snapshot_model",
]

ALWAYS_EXCLUDED = frozenset({"updated_at"})
"""Columns no snapshot holds: the audit row's ``created_at`` already says when."""

_SECRET_MARKERS = ("password", "secret")
_SECRET_SUFFIXES = ("_hash",)


def _is_secret(key: str) -> bool:
    lowered = key.lower()
    return any(marker in lowered for marker in _SECRET_MARKERS) or lowered.endswith(
        _SECRET_SUFFIXES
    )


_exclusions: WeakKeyDictionary[type[Any], frozenset[str]] = WeakKeyDictionary()


def audit_exclusions(model: type[Any]) -> frozenset[str]:
    """The attribute names of ``model`` that audit rows never hold.

    The union of every ``__audit_exclude__`` along the class's bases, the columns whose
    name marks a secret, and :data:`ALWAYS_EXCLUDED`.
    """
    known = _exclusions.get(model)
    if known is not None:
        return known
    declared: set[str] = set(ALWAYS_EXCLUDED)
    for klass in model.__mro__:
        declared.update(klass.__dict__.get("__audit_exclude__", ()))
    for attribute in inspect(model).column_attrs:
        if _is_secret(attribute.key):
            declared.add(attribute.key)
    _exclusions[model] = frozenset(declared)
    return _exclusions[model]


def json_value(value: Any) -> Any:
    """``value`` as something JSON stores and reads back the same way.

    UUIDs, dates, times and decimals become text, enums their value, bytes a size, sets
    and tuples lists; anything else unknown its ``str()``.
    """
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return (
            value if value == value and value not in (float("inf"), float("-inf")) else str(value)
        )
    if isinstance(value, enum.Enum):
        return json_value(value.value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, bytes | bytearray | memoryview):
        return f"<{len(bytes(value))} bytes>"
    if isinstance(value, Mapping):
        return {str(key): json_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_value(item) for item in value]
    return str(value)


def snapshot_model(instance: Any, exclude: Collection[str] = ()) -> dict[str, Any]:
    """The column values of ``instance``, JSON-ready, without secrets.

    Only values already loaded are read (no lazy load, which fails under asyncio).

    Args:
        instance: A mapped instance.
        exclude: More attribute names to leave out, besides the model's
            :func:`audit_exclusions`.

    Returns:
        Attribute name -> JSON-ready value, in column order.
    """
    state = inspect(instance)
    skip = audit_exclusions(type(instance)) | frozenset(exclude)
    loaded = state.dict
    return {
        attribute.key: json_value(loaded[attribute.key])
        for attribute in state.mapper.column_attrs
        if attribute.key not in skip and attribute.key in loaded
    }


def committed_snapshot(
    instance: Any, exclude: Collection[str] = ()
) -> tuple[dict[str, Any], list[str]]:
    """``instance`` as it was last loaded or saved, before the changes made to it since.

    Returns:
        The snapshot of the known old values, and the names of the changed attributes
        whose old value was never loaded (the caller reads them from the database).
    """
    state = inspect(instance)
    before = snapshot_model(instance, exclude)
    skip = audit_exclusions(type(instance)) | frozenset(exclude)
    unknown: list[str] = []
    for key, old in state.committed_state.items():
        if key in skip or key not in state.mapper.column_attrs:
            continue
        if old is NO_VALUE:
            unknown.append(key)
            before.pop(key, None)
        else:
            before[key] = json_value(old)
    return before, unknown


def diff_snapshots(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """The columns whose value differs between two snapshots.

    A column missing from one side counts as None there, so ``diff_snapshots({}, row)``
    describes a created row and ``diff_snapshots(row, {})`` a deleted one.

    Returns:
        Column -> ``{"before": old, "after": new}``, in the snapshots' order.
    """
    changes: dict[str, Any] = {}
    for key in [*after, *(key for key in before if key not in after)]:
        old, new = before.get(key), after.get(key)
        if old != new:
            changes[key] = {"before": old, "after": new}
    return changes


def audited_table(model: type[Any]) -> Table:
    """The table of ``model``, which must have a primary key for its rows to be audited.

    Raises:
        ImproperlyConfigured: The table has no primary key (a view or a legacy table
            mapped with ``__mapper_args__["primary_key"]``): its rows cannot be told apart.
    """
    table = getattr(model, "__table__", None)
    if not isinstance(table, Table):
        raise ImproperlyConfigured(f"{model!r} is not a mapped model with a table.")
    if not table.primary_key.columns:
        raise ImproperlyConfigured(
            f"{model.__name__} (table {table.name!r}) has no primary key, so the audit "
            "trail cannot say which row changed: add a primary key to the table."
        )
    return table


def pk_text(values: Sequence[Any]) -> str:
    """A primary key as the audit trail stores it.

    The value as text, or for a composite key a JSON list of the values as text
    (``'["a", "1"]'``).
    """
    texts = [str(json_value(value)) for value in values]
    return texts[0] if len(texts) == 1 else json.dumps(texts)


def row_pk_text(instance: Any) -> str:
    """The primary key of a mapped instance as text (see :func:`pk_text`).

    Raises:
        ImproperlyConfigured: The model's table has no primary key.
        ValueError: The instance has no primary key value yet.
    """
    table = audited_table(type(instance))
    state = inspect(instance)
    identity = dict(zip(map(id, state.mapper.primary_key), state.identity or (), strict=False))
    values = []
    for column in table.primary_key.columns:
        key = state.mapper.get_property_by_column(column).key
        value = state.dict.get(key)
        if value is None:
            value = identity.get(id(column))
        if value is None:
            raise ValueError(f"{type(instance).__name__} has no value for its key {key!r} yet.")
        values.append(value)
    return pk_text(values)
