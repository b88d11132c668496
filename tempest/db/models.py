"""The declarative base every tempest model inherits from."""

from __future__ import annotations

import re
import uuid
from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Boolean, Index, MetaData, Uuid, func, inspect, true
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    declared_attr,
    has_inherited_table,
    mapped_column,
)

from tempest.db.types import UTCDateTime
from tempest.exceptions import ImproperlyConfigured

__all__ = ["NAMING_CONVENTION", "BaseModel", "default_table_name"]

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
"""Constraint names Alembic can rely on: the same model always yields the same names."""

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def default_table_name(class_name: str) -> str:
    """Derive a table name from a model class name.

    A trailing ``Model`` is dropped and the rest is snake-cased:
    ``OrderItemModel`` -> ``order_item``, ``HTTPLog`` -> ``http_log``.

    Args:
        class_name: The model's class name.

    Returns:
        The table name.
    """
    stem = class_name.removesuffix("Model") or class_name
    return _CAMEL_BOUNDARY.sub("_", stem).lower()


def statement_timestamp(context: Any) -> datetime:
    """Default of ``created_at``/``updated_at``: the current UTC time.

    It takes SQLAlchemy's execution context (so SQLAlchemy calls it as is) and is marked
    ``same_for_every_row``: bulk inserts compute it once per statement, as the database's
    ``now()`` would.
    """
    return _utcnow()


statement_timestamp.same_for_every_row = True  # type: ignore[attr-defined]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _qualified_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _table_schema(cls: type) -> str | None:
    table_args = getattr(cls, "__table_args__", None)
    if isinstance(table_args, tuple) and table_args and isinstance(table_args[-1], dict):
        table_args = table_args[-1]
    if isinstance(table_args, dict) and table_args.get("schema"):
        return str(table_args["schema"])
    return None


def _own_table_name(cls: type[BaseModel]) -> str | None:
    """The table name ``cls`` will be mapped to, or None when it creates no table."""
    if "__table__" in cls.__dict__:
        return None
    if "__tablename__" in cls.__dict__:
        explicit = cls.__dict__["__tablename__"]
        return explicit if isinstance(explicit, str) else None
    if has_inherited_table(cls):
        return None
    return default_table_name(cls.__name__)


def _check_table_name_is_free(cls: type[BaseModel]) -> None:
    name = _own_table_name(cls)
    if name is None:
        return
    schema = _table_schema(cls) or cls.metadata.schema
    table = cls.metadata.tables.get(f"{schema}.{name}" if schema else name)
    if table is None:
        return
    for mapper in cls.registry.mappers:
        # The owner of the table, not a single-table-inheritance subclass sharing it.
        owns_table = mapper.inherits is None or mapper.inherits.local_table is not table
        if mapper.local_table is table and owns_table:
            raise ImproperlyConfigured(
                f"Models {_qualified_name(mapper.class_)} and {_qualified_name(cls)} both "
                f"use the table name {name!r}. Set __tablename__ on one of them."
            )


def _index_default_ordering(cls: type[BaseModel]) -> None:
    """Index (created_at, id): the default order of lists, and the keyset of cursor pages."""
    table = cls.__dict__.get("__table__")
    if table is None or "created_at" not in table.c or "id" not in table.c:
        return
    name = f"ix_{table.name}_created_at_id"
    if not any(index.name == name for index in table.indexes):
        Index(name, table.c.created_at, table.c.id)


class BaseModel(DeclarativeBase):
    """Abstract base of every tempest model.

    Each model gets a UUID primary key ``id``, an ``is_active`` flag (soft delete),
    and timezone-aware ``created_at``/``updated_at`` filled by Python and, as a fallback,
    by the database. ``__tablename__`` defaults to the class name without a trailing
    ``Model``, snake-cased (``OrderItemModel`` -> ``order_item``); assign it to choose
    another. Two models mapping the same table name fail at class creation with
    ``ImproperlyConfigured`` naming both.

    Every table gets the index ``ix_<table>_created_at_id`` on ``(created_at, id)``, the
    default ordering of lists and cursor pages.

    Instances compare and hash by ``(type, id)``; ``id`` is assigned on construction
    so that it is stable before the first flush.
    """

    __abstract__ = True

    metadata = MetaData(naming_convention=NAMING_CONVENTION)

    # Negative sort orders put the common columns first in every table.
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4, sort_order=-4)
    is_active: Mapped[bool] = mapped_column(
        Boolean, default=True, server_default=true(), nullable=False, sort_order=-3
    )
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(),
        default=statement_timestamp,
        server_default=func.now(),
        nullable=False,
        sort_order=-2,
    )
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(),
        default=statement_timestamp,
        onupdate=statement_timestamp,
        server_default=func.now(),
        server_onupdate=func.now(),
        nullable=False,
        sort_order=-1,
    )

    @declared_attr.directive
    def __tablename__(cls: type[BaseModel]) -> str | None:
        # A subclass of a mapped model shares its parent's table (single-table
        # inheritance) unless it names its own.
        if has_inherited_table(cls):
            return None
        return default_table_name(cls.__name__)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # Checked before SQLAlchemy maps the class, whose own error names only one model.
        if not cls.__dict__.get("__abstract__", False):
            _check_table_name_is_free(cls)
        super().__init_subclass__(**kwargs)
        _index_default_ordering(cls)

    def __init__(self, **kwargs: Any) -> None:
        """Set the given mapped attributes; ``id`` defaults to a new UUID.

        Args:
            **kwargs: Values for mapped attributes.

        Raises:
            TypeError: A keyword is not an attribute of the model.
        """
        if kwargs.get("id") is None:
            kwargs["id"] = uuid.uuid4()
        cls = type(self)
        for key, value in kwargs.items():
            if not hasattr(cls, key):
                raise TypeError(f"{key!r} is an invalid keyword argument for {cls.__name__}")
            setattr(self, key, value)

    def _identity(self) -> Any:
        # Read without triggering a lazy load, which fails under asyncio.
        value = self.__dict__.get("id")
        if value is None:
            identity = inspect(self).identity
            if identity:
                value = identity[0]
        return value

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BaseModel):
            return NotImplemented
        if type(self) is not type(other):
            return False
        mine = self._identity()
        return self is other if mine is None else mine == other._identity()

    def __hash__(self) -> int:
        return hash((type(self), self._identity()))

    def __repr__(self) -> str:
        return f"<{type(self).__name__} id={self._identity()!s}>"

    def to_dict(
        self,
        exclude: Collection[str] | None = None,
        include: Collection[str] | None = None,
        remove_none: bool = False,
    ) -> dict[str, Any]:
        """Return the column values as a dict, in column order.

        Args:
            exclude: Columns to leave out.
            include: When given, only these columns.
            remove_none: Leave out columns whose value is ``None``.

        Returns:
            Attribute name -> value (values are not converted: UUIDs stay UUIDs).
        """
        result: dict[str, Any] = {}
        for attribute in inspect(type(self)).column_attrs:
            key = attribute.key
            if include is not None and key not in include:
                continue
            if exclude is not None and key in exclude:
                continue
            value = getattr(self, key)
            if remove_none and value is None:
                continue
            result[key] = value
        return result

    def update_from_dict(
        self, data: Mapping[str, Any], allowed_fields: Collection[str] | None = None
    ) -> None:
        """Set attributes from ``data``; nothing is set if any key is rejected.

        Args:
            data: Attribute name -> new value.
            allowed_fields: When given, the only attributes that may be set.

        Raises:
            ValueError: A key is outside ``allowed_fields`` or not a mapped attribute.
        """
        mapped = inspect(type(self)).attrs.keys()
        for key in data:
            if allowed_fields is not None and key not in allowed_fields:
                raise ValueError(
                    f"Field {key!r} cannot be updated on {type(self).__name__}; "
                    f"allowed fields: {', '.join(sorted(allowed_fields)) or '(none)'}."
                )
            if key not in mapped:
                raise ValueError(f"{type(self).__name__} has no field {key!r}.")
        for key, value in data.items():
            setattr(self, key, value)
