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
    """FastStream dependency: the session of one message (:func:`tempest.db.session.work_session`).

    Yields:
        The session.
    """
    from tempest.db.session import work_session

    async with work_session() as session:
        yield session


MessageSession = Annotated[AsyncSession, Depends(message_session)]
"""A handler parameter ``session: MessageSession`` receives the message's session."""
