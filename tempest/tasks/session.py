"""``TaskSession``: a database session for a task, the way a request gets one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from sqlalchemy.ext.asyncio import AsyncSession

from tempest.tasks.imports import require

_taskiq = require("taskiq")


async def task_session() -> AsyncIterator[AsyncSession]:
    """Yield the session of one task run (:func:`tempest.db.session.work_session`)."""
    from tempest.db.session import work_session

    async with work_session() as session:
        yield session


TaskSession = Annotated[AsyncSession, _taskiq.TaskiqDepends(task_session)]
"""A task parameter typed ``TaskSession`` receives a session: ``async def t(session: TaskSession)``.

Workers connect the database when they start; on ``memory://`` the app's lifespan did.
"""
