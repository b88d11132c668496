"""The project's database, built from settings on first use, and sessions outside requests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from tempest.db.manager import AsyncDatabaseManager
    from tempest.exceptions import ServiceUnavailableException

_database: AsyncDatabaseManager | None = None
_work_session_override: AsyncSession | None = None


def get_database() -> AsyncDatabaseManager:
    """The project's :class:`AsyncDatabaseManager`, built from settings on first use.

    The ASGI app's lifespan and ``async def`` commands connect and disconnect it.
    """
    global _database
    if _database is None:
        from tempest.conf import settings
        from tempest.db.manager import AsyncDatabaseManager

        _database = AsyncDatabaseManager(
            settings.DATABASE_URL,
            echo=settings.DATABASE_ECHO,
            pool_size=settings.DATABASE_POOL_SIZE,
            max_overflow=settings.DATABASE_MAX_OVERFLOW,
            pool_recycle=settings.DATABASE_POOL_RECYCLE,
            unavailable_timeout=settings.DATABASE_UNAVAILABLE_TIMEOUT,
            retry_after=settings.DATABASE_RETRY_AFTER,
        )
    return _database


def project_unavailable_exception(error: BaseException) -> ServiceUnavailableException:
    """:func:`tempest.db.outage.unavailable_exception` for a request or page of the project.

    The log names the database whose engine raised ``error``
    (:func:`tempest.db.outage.watch_engine` marks them),
    else the project's (``DATABASE_URL``); ``Retry-After`` is ``DATABASE_RETRY_AFTER``.
    Settings that cannot be loaded still give the 503, with its default ``Retry-After``.

    Args:
        error: The connection-class error.
    """
    from tempest.db.outage import engine_url, unavailable_exception

    try:
        database = get_database()
        url, retry_after = database.url_text, database.retry_after
    except Exception:
        url, retry_after = "(DATABASE_URL)", None
    return unavailable_exception(error, engine_url(error) or url, retry_after=retry_after)


def reset_database() -> None:
    """Forget the project's database so that the next use rebuilds it from settings."""
    global _database
    _database = None


@asynccontextmanager
async def work_session() -> AsyncIterator[AsyncSession]:
    """A session for one unit of work outside a request: a task run, a message handled.

    It works like a request's session (:meth:`AsyncDatabaseManager.request_session`):
    writes commit through :func:`tempest.db.atomic`, changes still pending at the end are
    saved, and discarded when the block raises. Inside :func:`override_work_session` (the
    test plugin's ``db_session``) it is that session instead, left open.
    """
    if _work_session_override is not None:
        yield _work_session_override
        return
    async with get_database().request_session() as session:
        yield session


@contextmanager
def override_work_session(session: AsyncSession) -> Iterator[AsyncSession]:
    """Inside the block, every :func:`work_session` is ``session`` (the test's ``db_session``).

    Tasks and message handlers run in the test's process then see the test's rows, and
    what they write is rolled back with the test.
    """
    global _work_session_override
    previous, _work_session_override = _work_session_override, session
    try:
        yield session
    finally:
        _work_session_override = previous
