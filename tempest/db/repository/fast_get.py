"""Primary-key reads straight on the driver, when nothing can tell the difference.

``get_by_id`` is the most frequent query of an API. Through the ORM it costs about
300 µs of CPU on PostgreSQL (statement construction, caching, result processing, object
loading); this path costs about 120 µs: one precompiled ``SELECT ... WHERE id = $1`` on a
pooled asyncpg connection, and the row turned into a persistent instance of the session.

It applies only when the answer is exactly what the ORM would give: an autocommit
(request) session outside ``atomic()`` with no pending changes (so no other connection
could see different data), asyncpg, a plain one-table model whose columns need no result
conversion and that has no load events, no row of that id already in the session, no
lock and no scope. Anything else goes through the ORM.
"""

from __future__ import annotations

from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Table, bindparam, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapper, Session
from sqlalchemy.orm.attributes import instance_state
from sqlalchemy.util import greenlet_spawn

from tempest.db.internals import register_loaded_state
from tempest.db.transaction import AUTOCOMMIT_INFO_KEY, in_atomic_block

__all__ = ["fast_get_by_id"]

_plans: WeakKeyDictionary[Mapper[Any], _Plan | None] = WeakKeyDictionary()
_MISSING = object()


class _Plan:
    """The SQL and the attribute names for one model on asyncpg."""

    def __init__(self, sql: str, attributes: list[str], pk_index: int) -> None:
        self.sql = sql
        self.attributes = attributes
        self.pk_index = pk_index


def _build_plan(mapper: Mapper[Any], dialect: Any) -> _Plan | None:
    table = mapper.local_table
    if (
        not isinstance(table, Table)
        or mapper.inherits is not None
        or mapper.polymorphic_on is not None
        or mapper.class_manager.dispatch.load
        or mapper.class_manager.dispatch.refresh
        or len(mapper.primary_key) != 1
    ):
        return None
    attributes: list[str] = []
    columns = []
    for prop in mapper.column_attrs:
        if len(prop.columns) != 1 or prop.deferred or prop.columns[0].table is not table:
            return None
        column = prop.columns[0]
        if _needs_conversion(column, dialect):
            return None
        attributes.append(prop.key)
        columns.append(column)
    query = select(*columns).where(mapper.primary_key[0] == bindparam("pk"))
    compiled = query.compile(dialect=dialect)
    if list(compiled.positiontup or []) != ["pk"]:
        return None
    pk_index = next((i for i, c in enumerate(columns) if c is mapper.primary_key[0]), None)
    if pk_index is None:
        return None
    return _Plan(str(compiled), attributes, pk_index)


def _needs_conversion(column: Any, dialect: Any) -> bool:
    try:
        return column.type.dialect_impl(dialect).result_processor(dialect, None) is not None
    except Exception:  # some types need the driver's type code to decide: not here
        return True


def _plan_for(mapper: Mapper[Any], dialect: Any) -> _Plan | None:
    plan = _plans.get(mapper, _MISSING)
    if plan is _MISSING:
        plan = _plans[mapper] = _build_plan(mapper, dialect)
    return plan  # type: ignore[return-value]


async def fast_get_by_id(session: AsyncSession, model: type[Any], pk: Any) -> Any:
    """The instance with primary key ``pk``, None when absent, or ``NotImplemented``.

    ``NotImplemented`` means the fast path does not apply; the caller uses the ORM.
    """
    if (
        not session.info.get(AUTOCOMMIT_INFO_KEY)
        or in_atomic_block(session)
        or session.new
        or session.dirty
        or session.deleted
    ):
        return NotImplemented
    engine = session.get_bind()
    dialect = engine.dialect
    if dialect.driver != "asyncpg":
        return NotImplemented
    mapper = inspect(model)
    plan = _plan_for(mapper, dialect)
    if plan is None or session.identity_key(model, (pk,)) in session.identity_map:
        return NotImplemented
    # A pooled driver connection, without SQLAlchemy's Connection around it; asyncpg runs
    # the statement in autocommit, as the session would.
    pooled = await session.bind.raw_connection()  # type: ignore[union-attr]
    try:
        driver: Any = pooled.driver_connection
        record = await driver.fetchrow(plan.sql, pk)
    finally:
        await greenlet_spawn(pooled.close)  # the pool's return path may await
    if record is None:
        return None
    return _load_row(session.sync_session, mapper, plan, record)


def _load_row(session: Session, mapper: Mapper[Any], plan: _Plan, record: Any) -> Any:
    """Make the persistent instance of ``record`` the way the ORM's loader does.

    The same steps as ``sqlalchemy.orm.loading`` for a row not in the identity map:
    identity key and session on the state, the values committed as loaded, and the
    ``loaded_as_persistent`` event (so ``session.add``'s cascades and attach events,
    which a loaded row never fires, are skipped).
    """
    instance = mapper.class_manager.new_instance()
    state = instance_state(instance)
    values = instance.__dict__
    for attribute, value in zip(plan.attributes, record.values(), strict=True):
        values[attribute] = value
    key = mapper.identity_key_from_primary_key((values[plan.attributes[plan.pk_index]],))
    state.key = key
    state.session_id = session.hash_key
    register_loaded_state(session.identity_map, state, key, values)
    if session.dispatch.loaded_as_persistent:
        session.dispatch.loaded_as_persistent(session, state)
    return instance
