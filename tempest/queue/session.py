"""A database session for message handlers, as requests get one: ``MessageSession``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from sqlalchemy.ext.asyncio import AsyncSession

from tempest.queue._extra import require_faststream

require_faststream()

from faststream import Depends  # noqa: E402

__all__ = ["MessageSession", "message_session"]


async def message_session() -> AsyncIterator[AsyncSession]:
    """FastStream dependency: one autocommit session of the project's database per message.

    Works like a request's session: each query runs on its own, writes commit through
    :func:`tempest.db.atomic` (``BaseRepository`` does it), changes still pending when the
    handler returns are saved, and discarded when it raises.

    Inside :func:`tempest.queue.project.override_message_session` (the test plugin's
    ``db_session``) it yields that session instead, as it is.

    Yields:
        A session from ``tempest.db.get_database().request_session()``.
    """
    from tempest.db.session import get_database
    from tempest.queue.project import message_session_override

    override = message_session_override()
    if override is not None:
        yield override
        return
    async with get_database().request_session() as session:
        yield session


MessageSession = Annotated[AsyncSession, Depends(message_session)]
"""A handler parameter ``session: MessageSession`` receives the message's session."""
