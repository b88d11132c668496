"""The user of a request (the auth app's current_user dependency) is the audit actor."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import Depends
from sqlalchemy import String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from tempest.contrib.audit.models import AuditLog
from tempest.db import BaseModel, BaseRepository, get_database, get_session
from tempest.db.audit import set_default_audit_model
from tempest.utils.context import get_actor

# The auth tests' fixtures: an app built from settings, and an SMTP server for its emails.
from tests.contrib.auth.conftest import Build, build, smtp  # noqa: F401

pytestmark = pytest.mark.anyio


class AuditNote(BaseModel):
    __tablename__ = "audit_t_note"

    text: Mapped[str] = mapped_column(String(40))


async def test_the_signed_in_user_of_the_request_is_the_actor(build: Build) -> None:  # noqa: F811
    env = await build(
        INSTALLED_APPS=["tempest.contrib.auth", "tempest.contrib.audit"],
        AUTH_MAX_LOGIN_ATTEMPTS=3,
    )
    try:
        current = env.service.current_user_dependency()

        @env.app.post("/notes")
        async def signed(
            user: Any = Depends(current), session: AsyncSession = Depends(get_session)
        ) -> dict[str, str]:
            # No audit_model: installing tempest.contrib.audit made AuditLog the default.
            note = await BaseRepository(session, model=AuditNote).add_audited(AuditNote(text="a"))
            return {"id": str(note.id)}

        @env.app.post("/anonymous-notes")
        async def anonymous(session: AsyncSession = Depends(get_session)) -> dict[str, str]:
            note = await BaseRepository(session, model=AuditNote).add_audited(AuditNote(text="b"))
            return {"id": str(note.id)}

        await env.active_user("ana@example.com")
        pair = await env.tokens("ana@example.com")
        headers = {"Authorization": f"Bearer {pair['access_token']}"}
        made = await env.http.post("/notes", headers=headers)
        assert made.status_code == 200, made.text
        nobody = await env.http.post("/anonymous-notes")
        assert nobody.status_code == 200, nobody.text
        async with get_database().request_session() as session:
            rows = {
                row.object_pk: row
                for row in await session.scalars(
                    select(AuditLog).where(AuditLog.table_name == "audit_t_note")
                )
            }
            user_id = str((await env.http.get("/api/auth/me", headers=headers)).json()["id"])
        signed_row, anonymous_row = rows[made.json()["id"]], rows[nobody.json()["id"]]
        assert (signed_row.actor_kind, signed_row.actor_id) == ("user", user_id)
        assert signed_row.request_id  # the request's ID is kept too
        assert (anonymous_row.actor_kind, anonymous_row.actor_id) == (None, None)
        assert get_actor() is None  # the request's user ended with the request
    finally:
        set_default_audit_model(None)
