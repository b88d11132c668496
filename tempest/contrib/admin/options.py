"""AdminModel: how the admin shows and edits one model.

An :class:`AdminModel` is a plain configuration object: the constructor's arguments are
the whole contract. Every field reference is a column attribute (``OrderModel.name``) or
its name (``"name"``); both are checked against the model when the instance is made, so a
typo fails at start-up with the accepted names in the message.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import JSON, LargeBinary, String, Text
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.elements import UnaryExpression
from sqlalchemy.sql.operators import desc_op

from tempest.db import model_columns

__all__ = ["AUTO_FIELDS", "AdminModel", "FieldRef"]

FieldRef = InstrumentedAttribute[Any] | str
"""A column attribute (``OrderModel.name``) or its attribute name."""

AUTO_FIELDS: tuple[str, ...] = ("id", "created_at", "updated_at", "created_by", "updated_by")
"""Columns tempest fills in itself: shown, never edited."""

_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_DEFAULT_LIST_COLUMNS = 6


@dataclass(eq=False)
class AdminModel:
    """The admin's configuration of one model.

    Attributes:
        model: The mapped class.
        list_display: Columns of the list view, in order; default the first six columns
            that are not the primary key, long text, JSON or binary.
        list_filter: Columns offered as filters (``?filter_<name>=value``).
        search_fields: Text columns searched by ``?q=`` (a case-insensitive match on any).
        readonly_fields: Columns shown on the forms but never written from them; the
            primary key, timestamps and audit columns always are.
        exclude: Columns the admin never shows, edits or exports (password hashes,
            secrets).
        ordering: Default order of the list: a column (ascending), ``desc(column)`` or
            ``asc(column)``, or a name with ``-`` for descending (``"-created_at"``).
        page_size: Rows per list page, 1 to 500.
        can_create: Whether the admin may create rows (the view is a 404 otherwise).
        can_edit: Whether the admin may edit rows.
        can_delete: Whether the admin may delete rows (one or in bulk).
        slug: The model's URL segment; default its table name.
        verbose_name: Singular name shown in the pages; default from the class name.
        verbose_name_plural: Plural name; default ``verbose_name + "s"``.
    """

    model: type[Any]
    list_display: Sequence[FieldRef] = ()
    list_filter: Sequence[FieldRef] = ()
    search_fields: Sequence[FieldRef] = ()
    readonly_fields: Sequence[FieldRef] = ()
    exclude: Sequence[FieldRef] = ()
    ordering: FieldRef | UnaryExpression[Any] | None = None
    page_size: int = 25
    can_create: bool = True
    can_edit: bool = True
    can_delete: bool = True
    slug: str = ""
    verbose_name: str = ""
    verbose_name_plural: str = ""
    order_key: str = field(init=False, default="created_at")
    order_descending: bool = field(init=False, default=True)
    _shown_columns: dict[str, Any] = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        columns = model_columns(self.model) if _is_mapped(self.model) else None
        if columns is None:
            raise TypeError(f"AdminModel(model=...) needs a mapped model class, got {self.model!r}")
        name = self.model.__name__
        if "id" not in columns:
            raise ValueError(
                f"AdminModel({name}): the admin needs a primary key column named 'id' (as "
                "BaseModel has)."
            )
        self.exclude = [self._name(ref, "exclude") for ref in self.exclude]
        hidden: set[str] = set(cast(list[str], self.exclude))
        if "id" in hidden:
            raise ValueError(f"AdminModel({name}): 'id' cannot be excluded.")
        self._shown_columns = {key: col for key, col in columns.items() if key not in hidden}
        self.list_display = [self._name(ref, "list_display") for ref in self.list_display] or [
            key for key, column in columns.items() if _listable(key, column) and key not in hidden
        ][:_DEFAULT_LIST_COLUMNS]
        self.list_filter = [self._name(ref, "list_filter") for ref in self.list_filter]
        self.search_fields = [self._name(ref, "search_fields") for ref in self.search_fields]
        for key in self.search_field_names:
            if not isinstance(columns[key].type, String):
                raise ValueError(
                    f"AdminModel({name}): search_fields takes text columns; {key!r} is "
                    f"{columns[key].type}."
                )
        self.readonly_fields = [self._name(ref, "readonly_fields") for ref in self.readonly_fields]
        for option in ("list_display", "list_filter", "search_fields", "readonly_fields"):
            shown: set[str] = hidden.intersection(getattr(self, option))
            if shown:
                raise ValueError(
                    f"AdminModel({name}).{option} names excluded columns: "
                    f"{', '.join(sorted(shown))}."
                )
        self.order_key, self.order_descending = self._ordering(self.ordering)
        if isinstance(self.page_size, bool) or not isinstance(self.page_size, int):
            raise TypeError(f"AdminModel({name}): page_size must be an int")
        if not 1 <= self.page_size <= 500:
            raise ValueError(
                f"AdminModel({name}): page_size must be 1 to 500, got {self.page_size}"
            )
        self.slug = self.slug or str(self.model.__tablename__)
        if not _SLUG.match(self.slug):
            raise ValueError(
                f"AdminModel({name}): slug {self.slug!r} must be lowercase letters, digits, "
                "'_' or '-'."
            )
        if not self.verbose_name:
            base = name.removesuffix("Model") or name
            self.verbose_name = re.sub(r"(?<!^)(?=[A-Z])", " ", base).lower()
        self.verbose_name_plural = self.verbose_name_plural or f"{self.verbose_name}s"

    @property
    def list_display_names(self) -> list[str]:
        """``list_display`` as attribute names."""
        return cast(list[str], self.list_display)

    @property
    def list_filter_names(self) -> list[str]:
        """``list_filter`` as attribute names."""
        return cast(list[str], self.list_filter)

    @property
    def search_field_names(self) -> list[str]:
        """``search_fields`` as attribute names."""
        return cast(list[str], self.search_fields)

    @property
    def columns(self) -> dict[str, Any]:
        """The model's columns by attribute name, without the excluded ones."""
        return self._shown_columns

    def is_readonly(self, key: str) -> bool:
        """Whether the forms show ``key`` without letting the admin change it."""
        return key in AUTO_FIELDS or key in self.readonly_fields

    def _name(self, ref: object, option: str) -> str:
        columns = model_columns(self.model)
        key: object = ref
        if isinstance(ref, InstrumentedAttribute):
            owner = ref.class_
            if owner is not self.model and not (
                isinstance(owner, type) and issubclass(self.model, owner)
            ):
                raise ValueError(
                    f"AdminModel({self.model.__name__}).{option}: {ref.class_!r}."
                    f"{ref.key} is a column of another model."
                )
            key = ref.key
        if not isinstance(key, str) or key not in columns:
            raise ValueError(
                f"AdminModel({self.model.__name__}).{option}: {key!r} is not a column; "
                f"columns: {', '.join(columns)}."
            )
        return key

    def _ordering(self, ordering: object) -> tuple[str, bool]:
        if ordering is None:
            default = "created_at" if "created_at" in model_columns(self.model) else "id"
            return default, True
        if isinstance(ordering, UnaryExpression):
            element = ordering.element
            key = getattr(element, "key", None)
            return self._name(key, "ordering"), ordering.modifier is desc_op
        if isinstance(ordering, str) and ordering.startswith("-"):
            return self._name(ordering[1:], "ordering"), True
        return self._name(ordering, "ordering"), False


def _is_mapped(model: object) -> bool:
    return isinstance(model, type) and hasattr(model, "__mapper__")


def _listable(key: str, column: Any) -> bool:
    return key != "id" and not isinstance(column.type, Text | JSON | LargeBinary)
