"""Lifecycle of one database: engine, sessions, schema helpers and health check."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import MetaData, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import QueuePool

from tempest.db.models import BaseModel
from tempest.db.outage import report_available, report_unavailable, unavailable_reason, watch_engine
from tempest.db.transaction import AUTOCOMMIT_INFO_KEY, atomic

__all__ = ["AsyncDatabaseManager", "close_session"]

logger = logging.getLogger("tempest.db")

_NOT_CONNECTED = (
    "AsyncDatabaseManager for {url} is not connected; await connect() first "
    "(usually in the application's lifespan)."
)


def _is_sqlite_memory(url: URL) -> bool:
    if url.get_backend_name() != "sqlite":
        return False
    return url.database in (None, "", ":memory:") or url.query.get("mode") == "memory"


def _enforce_sqlite_foreign_keys(dbapi_connection: Any, connection_record: Any) -> None:
    # SQLite ignores FOREIGN KEY constraints (and ON DELETE) unless asked, per connection.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _begin_sqlite_transaction(connection: Any) -> None:
    # pysqlite (under aiosqlite) starts a transaction only before the first INSERT/UPDATE/
    # DELETE, so a SAVEPOINT opened earlier became the transaction and its RELEASE
    # committed: an atomic() block nested first in an outer one escaped the outer
    # rollback. SQLAlchemy's recipe: emit BEGIN ourselves (pysqlite then adds none). An
    # autocommit connection (the driver's isolation_level None: request sessions' reads)
    # stays without one, so a read still costs one statement.
    if connection.connection.dbapi_connection.isolation_level is not None:
        connection.exec_driver_sql("BEGIN")


async def close_session(session: AsyncSession) -> None:
    """Close ``session``, cheaply when it holds no connection.

    A session whose reads all took the driver fast path never began a transaction:
    closing it only forgets its objects, which needs neither a greenlet nor the task that
    ``async with AsyncSession()`` spends on shielding the close (together about 40 µs, a
    tenth of a primary-key GET).
    """
    if session.sync_session.in_transaction():
        await asyncio.shield(session.close())
    else:
        session.sync_session.close()


async def end_request_session(session: AsyncSession, *, failed: bool) -> None:
    """Finish a request session: save what is still pending, or discard it, then close.

    Args:
        session: A session from :attr:`AsyncDatabaseManager.request_session_factory`.
        failed: The work raised: pending changes are discarded, not saved.
    """
    if not failed and not (session.new or session.dirty or session.deleted):
        await close_session(session)  # the usual case: nothing to save
        return
    # Saving or rolling back awaits the database: finish even if the request is cancelled.
    await asyncio.shield(_save_or_discard(session, failed=failed))


async def _save_or_discard(session: AsyncSession, *, failed: bool) -> None:
    try:
        if failed:
            await session.rollback()
        else:
            try:
                async with atomic(session):
                    pass
            except BaseException:
                await session.rollback()
                raise
    finally:
        await close_session(session)


class AsyncDatabaseManager:
    """Own the async engine and session factory of one database.

    The engine is created by :meth:`connect` and disposed by :meth:`disconnect`, so the
    manager can be built at import time and connected in the app's lifespan. Sessions
    do not expire objects on commit, so loaded attributes stay readable afterwards.

    Example:
        ```python
        db = AsyncDatabaseManager("sqlite+aiosqlite:///./app.db")
        await db.connect()
        async with db.get_session_context() as session:
            session.add(order)
        ```
    """

    def __init__(
        self,
        url: str | URL,
        *,
        echo: bool = False,
        pool_size: int = 10,
        max_overflow: int = 20,
        pool_recycle: int = 3600,
        unavailable_timeout: float = 2.0,
        retry_after: int = 5,
        **engine_kwargs: Any,
    ) -> None:
        """Describe the database; nothing connects until :meth:`connect`.

        Args:
            url: SQLAlchemy async URL (``postgresql+asyncpg://...``,
                ``sqlite+aiosqlite:///path.db``).
            echo: Log every SQL statement.
            pool_size: Connections kept open (ignored for in-memory SQLite).
            max_overflow: Extra connections allowed under load (idem).
            pool_recycle: Seconds after which a pooled connection is replaced.
            unavailable_timeout: Seconds to wait for a pooled connection (``pool_timeout``)
                and for a new one (the driver's connect timeout) before giving up: while
                the database is down, requests fail within this bound (a 503).
            retry_after: The ``Retry-After`` seconds of that 503.
            **engine_kwargs: Passed to ``create_async_engine`` unchanged.
        """
        self._url = make_url(url)
        self.url_text = self._url.render_as_string(hide_password=False)
        self._echo = echo
        self._pool_size = pool_size
        self._max_overflow = max_overflow
        self._pool_recycle = pool_recycle
        self.unavailable_timeout = unavailable_timeout
        self.retry_after = retry_after
        self._engine_kwargs = engine_kwargs
        self._engine: AsyncEngine | None = None
        self._session_factory: async_sessionmaker[AsyncSession] | None = None
        self._request_session_factory: async_sessionmaker[AsyncSession] | None = None

    def __repr__(self) -> str:
        return f"<AsyncDatabaseManager {self.db_url_safe} connected={self.is_connected}>"

    @property
    def db_url_safe(self) -> str:
        """The URL with its password masked, safe to log or display."""
        return self._url.render_as_string(hide_password=True)

    @property
    def is_connected(self) -> bool:
        """Whether :meth:`connect` has run and :meth:`disconnect` has not."""
        return self._engine is not None

    @property
    def engine(self) -> AsyncEngine:
        """The live engine.

        Raises:
            RuntimeError: The manager is not connected.
        """
        if self._engine is None:
            raise RuntimeError(_NOT_CONNECTED.format(url=self.db_url_safe))
        return self._engine

    @property
    def session_factory(self) -> async_sessionmaker[AsyncSession]:
        """The session factory (``expire_on_commit=False``).

        Raises:
            RuntimeError: The manager is not connected.
        """
        if self._session_factory is None:
            raise RuntimeError(_NOT_CONNECTED.format(url=self.db_url_safe))
        return self._session_factory

    @property
    def request_session_factory(self) -> async_sessionmaker[AsyncSession]:
        """Factory of autocommit sessions, as requests and ``async def`` commands get them.

        Each query runs on its own, so a read pays one round trip; wrap writes that belong
        together in :func:`tempest.db.atomic` (``BaseRepository`` does it for each write).

        Raises:
            RuntimeError: The manager is not connected.
        """
        if self._request_session_factory is None:
            raise RuntimeError(_NOT_CONNECTED.format(url=self.db_url_safe))
        return self._request_session_factory

    def _engine_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"echo": self._echo, "pool_recycle": self._pool_recycle}
        poolclass = self._engine_kwargs.get("poolclass")
        # Only queue pools accept sizing; in-memory SQLite uses StaticPool.
        if poolclass is not None:
            sized = issubclass(poolclass, QueuePool)
        else:
            sized = not _is_sqlite_memory(self._url)
        if sized:
            options["pool_size"] = self._pool_size
            options["max_overflow"] = self._max_overflow
            options["pool_timeout"] = self.unavailable_timeout
        if self._url.get_driver_name() == "asyncpg":  # the connect attempt's bound
            connect_args = {"timeout": self.unavailable_timeout}
            connect_args.update(self._engine_kwargs.get("connect_args") or {})
            options["connect_args"] = connect_args
        options.update({k: v for k, v in self._engine_kwargs.items() if k != "connect_args"})
        return options

    async def connect(self) -> None:
        """Create the engine and the session factory; a no-op when connected."""
        if self._engine is not None:
            return
        engine = create_async_engine(self._url, **self._engine_options())
        if engine.dialect.name == "sqlite":
            event.listen(engine.sync_engine, "connect", _enforce_sqlite_foreign_keys)
            event.listen(engine.sync_engine, "begin", _begin_sqlite_transaction)
        watch_engine(engine, self.url_text)
        self._session_factory = async_sessionmaker(engine, expire_on_commit=False)
        self._request_session_factory = async_sessionmaker(
            engine.execution_options(isolation_level="AUTOCOMMIT"),
            expire_on_commit=False,
            info={AUTOCOMMIT_INFO_KEY: True},
        )
        self._engine = engine
        logger.debug("Connected to %s", self.db_url_safe)

    async def disconnect(self) -> None:
        """Dispose the engine and close its pooled connections; a no-op when not connected."""
        engine, self._engine = self._engine, None
        self._session_factory = self._request_session_factory = None
        if engine is not None:
            await engine.dispose()
            logger.debug("Disconnected from %s", self.db_url_safe)

    async def get_session(self) -> AsyncSession:
        """Return a new session with ordinary transactions; the caller commits and closes it.

        Not the request dependency :func:`tempest.db.get_session` (``Depends(get_session)``
        in a route), which gives the request's autocommit session: see "Two things named
        get_session" in docs/topics/sessions.md. Outside a route, :meth:`request_session`,
        :meth:`get_session_context` or :func:`tempest.db.session.work_session` close the
        session for you.

        Returns:
            A session bound to this database.

        Raises:
            RuntimeError: The manager is not connected.
        """
        return self.session_factory()

    @asynccontextmanager
    async def get_session_context(self) -> AsyncIterator[AsyncSession]:
        """Yield a session that commits when the block succeeds and rolls back if it raises.

        Yields:
            A session bound to this database.

        Raises:
            RuntimeError: The manager is not connected.
        """
        async with self.session_factory() as session:
            try:
                yield session
            except BaseException:
                await session.rollback()
                raise
            await session.commit()

    @asynccontextmanager
    async def request_session(self) -> AsyncIterator[AsyncSession]:
        """Yield an autocommit session for one request or command.

        Reads pay one round trip each; writes commit through :func:`tempest.db.atomic`
        (``BaseRepository`` does it). Changes still pending when the block ends are saved
        in one transaction; when it raises they are discarded.

        Yields:
            A session from :attr:`request_session_factory`.
        """
        session = self.request_session_factory()
        try:
            yield session
        except BaseException:
            await end_request_session(session, failed=True)
            raise
        await end_request_session(session, failed=False)

    async def session_dependency(self) -> AsyncIterator[AsyncSession]:
        """FastAPI dependency yielding a :meth:`request_session`.

        Use as ``Depends(db.session_dependency)``.

        Yields:
            A session bound to this database.
        """
        async with self.request_session() as session:
            yield session

    async def create_tables(self, metadata: MetaData | None = None) -> None:
        """Create every table of ``metadata`` that does not exist yet.

        Meant for tests and local experiments; real schemas go through migrations.

        Args:
            metadata: Tables to create; defaults to ``BaseModel.metadata``.
        """
        target = metadata if metadata is not None else BaseModel.metadata
        async with self.engine.begin() as connection:
            await connection.run_sync(target.create_all)

    async def drop_tables(self, metadata: MetaData | None = None) -> None:
        """Drop every table of ``metadata`` that exists.

        Args:
            metadata: Tables to drop; defaults to ``BaseModel.metadata``.
        """
        target = metadata if metadata is not None else BaseModel.metadata
        async with self.engine.begin() as connection:
            await connection.run_sync(target.drop_all)

    async def health_check(self) -> bool:
        """Run ``SELECT 1``; never raises, and fails within about ``unavailable_timeout``.

        A failure is logged once until the database answers again (no log per probe).

        Returns:
            ``True`` when the database answered, ``False`` otherwise (including when
            the manager is not connected).
        """
        if self._engine is None:
            return False
        try:
            async with self._engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception as exc:
            reason = unavailable_reason(exc) or f"{type(exc).__name__}: {exc}".splitlines()[0]
            report_unavailable(self.url_text, reason)
            return False
        report_available(self.url_text)
        return True
