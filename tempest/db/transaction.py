"""Units of work: ``atomic()`` and ``@transactional``.

Request sessions run in autocommit mode, so a request that only reads pays one round trip
per query (no BEGIN, no ROLLBACK). Writes that must succeed or fail together run inside
``atomic(session)``: a real transaction, committed when the block ends and rolled back if
it raises. ``BaseRepository`` wraps each of its writes in ``atomic``; nest them in an
outer ``atomic`` to make several writes one transaction. As in Django, an inner block is a
savepoint: when it raises, only its own writes are undone and the outer block goes on.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, ParamSpec, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from tempest.db.idempotency import mark_idempotency_key

__all__ = ["AUTOCOMMIT_INFO_KEY", "atomic", "in_atomic_block", "transactional"]

AUTOCOMMIT_INFO_KEY = "tempest.autocommit"
"""``session.info`` key marking a session whose connection runs in autocommit mode."""

_DEPTH_KEY = "tempest.atomic_depth"
_P = ParamSpec("_P")
_R = TypeVar("_R")


def in_atomic_block(session: AsyncSession) -> bool:
    """Whether ``session`` is inside an ``atomic()`` block."""
    return bool(session.info.get(_DEPTH_KEY, 0))


@asynccontextmanager
async def atomic(
    session: AsyncSession, *, savepoint: bool = True, durable: bool = False
) -> AsyncIterator[AsyncSession]:
    """Run the block as one transaction on ``session``, or as a savepoint inside one.

    The outermost block commits when it ends and rolls back when it raises. An inner
    block is a savepoint (``session.begin_nested()``): when it raises, its own writes are
    rolled back, the exception goes on to the caller, and the outer block may go on; when
    it succeeds, its writes commit or roll back with the outer block. On an autocommit
    (request) session, the outermost block first ends the session's autocommit work
    (flushing pending changes, which are saved one statement at a time) and then takes its
    connection out of autocommit for the transaction.

    Args:
        session: The session to run the transaction on.
        savepoint: Inside another block, ``False`` joins it without a savepoint (two
            round trips fewer): a failure then spoils the outer block, which must end.
            ``BaseRepository``'s writes use it, as Django's ``Model.save()`` does.
        durable: The block must be the outermost one, so that its writes are committed
            when it ends (as Django's ``atomic(durable=True)``); nesting it raises.

    Yields:
        The same session.

    Raises:
        RuntimeError: ``durable=True`` inside another ``atomic()`` block.
    """
    depth = session.info.get(_DEPTH_KEY, 0)
    if depth:
        if durable:
            raise RuntimeError(
                "A durable atomic() block cannot be nested in another atomic() block: its "
                "writes would only commit with the outer one (remove durable=True or the "
                "outer block)."
            )
        session.info[_DEPTH_KEY] = depth + 1
        try:
            if savepoint:
                async with session.begin_nested():
                    yield session
            else:
                yield session
        finally:
            session.info[_DEPTH_KEY] = depth
        return
    session.info[_DEPTH_KEY] = 1
    try:
        if session.info.get(AUTOCOMMIT_INFO_KEY):
            if session.in_transaction():
                await session.commit()  # saves what was pending, outside the transaction
            level = _transaction_level(session)
            await session.connection(execution_options={"isolation_level": level})
        yield session
        await mark_idempotency_key(session)
        await session.commit()
    except BaseException:
        # Also when a commit fails: the session must stay usable afterwards.
        await session.rollback()
        raise
    finally:
        session.info[_DEPTH_KEY] = 0


def _transaction_level(session: AsyncSession) -> str:
    dialect = session.get_bind().dialect
    level = getattr(dialect, "default_isolation_level", None)
    if not level or level == "AUTOCOMMIT":
        return "SERIALIZABLE" if dialect.name == "sqlite" else "READ COMMITTED"
    return str(level)


def transactional(method: Callable[_P, Awaitable[_R]]) -> Callable[_P, Awaitable[_R]]:
    """Run an async method of a repository or service inside ``atomic()``.

    The session is ``self.session``, or ``self.repository.session`` for a service::

        class OrderService(BaseService[OrderRepository, OrderResponseSchema]):
            @transactional
            async def place(self, data: OrderCreateSchema) -> OrderResponseSchema:
                order = await self.repository.add(...)
                await self.repository.bulk_create_values(...)  # same transaction
                return self.repository.map_to_response(order)
    """

    @functools.wraps(method)
    async def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        async with atomic(_session_of(args[0] if args else None)):
            return await method(*args, **kwargs)

    return wrapper


def _session_of(owner: Any) -> AsyncSession:
    session = getattr(owner, "session", None)
    if session is None:
        session = getattr(getattr(owner, "repository", None), "session", None)
    if not isinstance(session, AsyncSession):
        raise TypeError(
            "@transactional needs a method of an object with `session` (a repository) or "
            "`repository.session` (a service)."
        )
    return session
