"""The SQL behind the list view, written so that a table of millions of rows stays fast.

- Counting never scans a big table: an unfiltered list on PostgreSQL takes the planner's
  estimate above :data:`ESTIMATE_ABOVE` rows ("about N"); otherwise the count stops at a
  cap (``SELECT count(*) FROM (... LIMIT cap + 1)``) and says "more than cap". A first
  page that holds every match needs no count at all.
- Pages are keyset pages: "next" resumes after the last row's ``(sort value, id)`` and
  "previous" before the first, so page 20,000 costs what page 2 costs. A sort column whose
  values a cursor cannot carry falls back to numbered (OFFSET) pages.
- Foreign keys in the list are shown as the related row's label, fetched by a LEFT JOIN
  in the page's one query; only displayed columns and relations are loaded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, String, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, lazyload, load_only

from tempest.contrib.admin.options import AdminModel
from tempest.db import (
    Ordering,
    check_cursor_column,
    cursor_payload,
    escape_like,
    estimated_rows,
    resume_after,
)
from tempest.exceptions import ValidationException

__all__ = [
    "COUNT_CAP",
    "ESTIMATE_ABOVE",
    "FILTERED_COUNT_CAP",
    "Count",
    "ListPage",
    "ListQuery",
    "count_rows",
    "label_column",
    "load_page",
]

ESTIMATE_ABOVE = 10_000
"""An unfiltered PostgreSQL table estimated above this many rows is not counted."""

COUNT_CAP = 10_000
"""Counting an unfiltered list stops after this many rows."""

FILTERED_COUNT_CAP = 250
"""Counting a searched or filtered list stops after this many matches.

A search that matches 1% of a million rows reads about 25,000 of them to find 251
matches (about 13 ms on PostgreSQL here); a cap of 1,000 read four times as many.
"""

_LABEL_NAMES = ("name", "title", "label", "email", "username", "slug", "code")
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


@dataclass(frozen=True, slots=True)
class Count:
    """How many rows a list has, as far as it is known.

    Attributes:
        value: The count, the estimate, or the cap.
        kind: ``exact``, ``about`` (the planner's estimate) or ``more`` (more than value).
    """

    value: int
    kind: str = "exact"


@dataclass(slots=True)
class ListQuery:
    """What the list view was asked for (already validated).

    Attributes:
        search: The ``q`` text, stripped.
        filters: Column name -> the value to match.
        ordering: The order of the rows.
        after: A cursor: rows after it.
        before: A cursor: rows before it.
        last: The last page.
        page: A page number, for orderings without cursors.
    """

    search: str = ""
    filters: dict[str, Any] = field(default_factory=dict)
    ordering: Ordering | None = None
    after: str | None = None
    before: str | None = None
    last: bool = False
    page: int = 1


@dataclass(slots=True)
class ListPage:
    """One page of the list.

    Attributes:
        rows: The model instances.
        labels: For each foreign-key column shown: row id -> the related row's label.
        next_cursor: Cursor (numbered pages: the number) of the next page; None on the last.
        prev_cursor: Cursor (numbered pages: the number) of the previous page; None on the
            first.
        keyset: Whether pages are keyset pages (else numbered).
        page: The page number (numbered pages).
    """

    rows: list[Any]
    labels: dict[str, dict[Any, str]]
    next_cursor: str | None
    prev_cursor: str | None
    keyset: bool
    page: int = 1


def label_column(model: type[Any], admin_model: AdminModel | None) -> Any:
    """The column that names a row of ``model`` in lists and selects.

    The first text column among the registration's ``search_fields``, else a column
    called name, title, label, email, username, slug or code, else the primary key.
    """
    from tempest.db import model_columns

    columns = model_columns(model)
    candidates = list(admin_model.search_field_names) if admin_model else []
    candidates += [name for name in _LABEL_NAMES if name in columns]
    for name in candidates:
        if isinstance(columns[name].type, String):
            return getattr(model, name)
    return model.id


def filtered_select(
    admin_model: AdminModel, query: ListQuery, statement: Select[Any] | None = None
) -> Select[Any]:
    """``statement`` (default ``select(model)``) narrowed by the search and the filters."""
    model = admin_model.model
    statement = select(model) if statement is None else statement
    if query.search and admin_model.search_field_names:
        pattern = "%" + escape_like(query.search) + "%"
        statement = statement.where(
            or_(
                *(
                    getattr(model, name).ilike(pattern, escape="\\")
                    for name in admin_model.search_field_names
                )
            )
        )
    for name, value in query.filters.items():
        attribute = getattr(model, name)
        statement = statement.where(attribute.is_(None) if value is None else attribute == value)
    return statement


def parse_filters(admin_model: AdminModel, params: Mapping[str, str]) -> dict[str, Any]:
    """The ``filter_<name>`` parameters, converted to column values.

    Raises:
        ValidationException: A filter on a column not in ``list_filter``, or a value
            that does not fit the column.
    """
    from tempest.db import coerce_value

    result: dict[str, Any] = {}
    for key, raw in params.items():
        if not key.startswith("filter_") or raw == "":
            continue
        name = key.removeprefix("filter_")
        if name not in admin_model.list_filter_names:
            allowed = ", ".join(admin_model.list_filter_names) or "none"
            raise ValidationException(f"Cannot filter on {name!r}; filters: {allowed}.")
        column = admin_model.columns[name]
        if raw == "__none__" and column.nullable:
            result[name] = None
            continue
        try:
            result[name] = _filter_value(column, raw, coerce_value)
        except ValueError:
            raise ValidationException(f"{raw!r} is not a valid value for {name}.") from None
    return result


async def count_rows(
    session: AsyncSession, admin_model: AdminModel, query: ListQuery | None = None
) -> Count:
    """Count the matching rows without scanning a big table (see the module docstring)."""
    filtered = query is not None and bool(query.filters or query.search)
    if not filtered:
        estimate = await estimated_rows(session, admin_model.model.__table__)
        if estimate is not None and estimate > ESTIMATE_ABOVE:
            return Count(estimate, "about")
    cap = FILTERED_COUNT_CAP if filtered else COUNT_CAP
    model = admin_model.model
    inner = filtered_select(admin_model, query or ListQuery(), select(model.id)).limit(cap + 1)
    counted = int(await session.scalar(select(func.count()).select_from(inner.subquery())) or 0)
    return Count(cap, "more") if counted > cap else Count(counted)


async def load_page(
    session: AsyncSession,
    admin_model: AdminModel,
    query: ListQuery,
    fk_targets: Mapping[str, tuple[type[Any], Any, str]],
) -> ListPage:
    """Load one page of the list.

    Args:
        session: The request's session.
        admin_model: The model's registration.
        query: The validated request.
        fk_targets: For each displayed foreign-key column: (related model, its label
            column, the attribute the key references).

    Returns:
        The page.

    Raises:
        ValidationException: A cursor is malformed or made for another ordering.
    """
    from tempest.schemas import decode_cursor, encode_cursor

    model = admin_model.model
    default = Ordering(model, admin_model.order_key, admin_model.order_descending)
    ordering = query.ordering or default
    keyset = _keyset_possible(ordering)
    loaded = {"id", ordering.key, *admin_model.list_display_names}
    label_columns = []
    statement = select(model)
    for name, (target, label, referenced) in fk_targets.items():
        alias = aliased(target)
        label_columns.append(name)
        statement = statement.add_columns(getattr(alias, label.key).label(f"label_{name}"))
        statement = statement.outerjoin(alias, getattr(alias, referenced) == getattr(model, name))
    statement = filtered_select(admin_model, query, statement).options(
        load_only(*(getattr(model, name) for name in loaded)), lazyload("*")
    )
    size = admin_model.page_size
    reverse = Ordering(model, ordering.key, not ordering.descending)
    backwards = bool(query.before) or query.last
    page = 1
    if keyset:
        used = reverse if backwards else ordering
        if query.after:
            statement = statement.where(resume_after(ordering, decode_cursor(query.after)))
        elif query.before:
            statement = statement.where(resume_after(reverse, decode_cursor(query.before)))
        statement = statement.order_by(*used.clauses()).limit(size + 1)
    else:
        page = max(query.page, 1)
        statement = statement.order_by(*ordering.clauses()).offset((page - 1) * size)
        statement = statement.limit(size + 1)
    result = list((await session.execute(statement)).all())
    more = len(result) > size
    result = result[:size]
    if backwards:
        result.reverse()
    rows = [row[0] for row in result]
    labels: dict[str, dict[Any, str]] = {name: {} for name in label_columns}
    for row in result:
        for index, name in enumerate(label_columns, start=1):
            value = getattr(row[0], name)
            if value is not None and row[index] is not None:
                labels[name][value] = str(row[index])
    next_cursor = prev_cursor = None
    if keyset and rows:
        has_next, has_prev = (not query.last, more) if backwards else (more, bool(query.after))
        if has_next:
            next_cursor = encode_cursor(cursor_payload(ordering, rows[-1]))
        if has_prev:
            prev_cursor = encode_cursor(cursor_payload(reverse, rows[0]))
    elif not keyset:
        next_cursor = str(page + 1) if more else None
        prev_cursor = str(page - 1) if page > 1 else None
    return ListPage(rows, labels, next_cursor, prev_cursor, keyset, page)


def _keyset_possible(ordering: Ordering) -> bool:
    try:
        check_cursor_column(ordering)
    except ValidationException:
        return False
    return True


def _filter_value(column: Any, raw: str, coerce: Any) -> Any:
    from sqlalchemy import Boolean

    if isinstance(column.type, Boolean):
        lowered = raw.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ValueError(raw)
    return coerce(column, raw)
