"""``TaskSession``: a database session for a task, the way a request gets one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from sqlalchemy.ext.asyncio import AsyncSession

from tempest.tasks.imports import require

_taskiq = require("taskiq")


async def task_session() -> AsyncIterator[AsyncSession]:
    """Yield an autocommit session of the project's database for one task run.

    Writes commit through :func:`tempest.db.atomic` (``BaseRepository`` does it); changes
    still pending when the task returns are saved, and discarded when it raises.

    Inside :func:`tempest.tasks.project.override_task_session` (the test plugin's
    ``db_session``) it yields that session instead, as it is.
    """
    from tempest.db.session import get_database
    from tempest.tasks.project import task_session_override

    override = task_session_override()
    if override is not None:
        yield override
        return
    async with get_database().request_session() as session:
        yield session


TaskSession = Annotated[AsyncSession, _taskiq.TaskiqDepends(task_session)]
"""A task parameter typed ``TaskSession`` receives a session: ``async def t(session: TaskSession)``.

Workers connect the database when they start; on ``memory://`` the app's lifespan did.
"""
