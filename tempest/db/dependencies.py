"""The request's database session as a FastAPI dependency: ``Depends(get_session)``."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection

from tempest.db.internals import request_exit_stack
from tempest.db.manager import end_request_session
from tempest.db.session import get_database

__all__ = ["get_session"]


async def get_session(connection: HTTPConnection) -> AsyncSession:
    """FastAPI dependency: one session per request, shared by everything in it.

    Not :meth:`AsyncDatabaseManager.get_session() <tempest.db.AsyncDatabaseManager.get_session>`,
    the manager's method that returns a new session with ordinary transactions for the
    caller to close: see "Two things named get_session" in docs/topics/sessions.md.

    The session runs in autocommit mode: a read-only request pays one round trip per
    query; writes commit through :func:`tempest.db.atomic`. Changes still pending when
    the request ends are saved in one transaction, or discarded when the endpoint raised.
    Override it in tests with ``app.dependency_overrides[get_session]`` (the test plugin
    does).

    Raises:
        RuntimeError: Called outside a FastAPI route's dependencies.
    """
    # Not a `yield` dependency: FastAPI wraps those in two context managers and a cancel
    # scope, about 40 µs a request. The session is closed by the same per-request exit
    # stack that would close a `yield` dependency, with the same exception semantics.
    request_stack = request_exit_stack(connection.scope)
    if request_stack is None:
        raise RuntimeError(
            "tempest.db.get_session is a FastAPI dependency: use Depends(get_session) in a "
            "route, or `async with database.request_session()` elsewhere."
        )
    session = get_database().request_session_factory()
    request_stack.push_async_exit(_RequestSessionEnd(session))
    return session


class _RequestSessionEnd:
    """Ends the request's session when FastAPI unwinds the request's exit stack."""

    __slots__ = ("session",)

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def __call__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        await end_request_session(self.session, failed=exc_type is not None)
        return False  # the exception, if any, goes on
