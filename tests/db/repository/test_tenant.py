"""TenantScopedRepository: another tenant's rows are invisible and untouchable."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tempest.db import BaseRepository, TenantScopedRepository
from tempest.exceptions import NotFoundException, ValidationException
from tests.db.repository.models import RepoItem, RepoNote

pytestmark = pytest.mark.anyio

ACME, GLOBEX = uuid.uuid4(), uuid.uuid4()


def notes(session: AsyncSession, tenant: uuid.UUID | str) -> TenantScopedRepository[RepoNote]:
    return TenantScopedRepository(session, tenant_id=tenant, model=RepoNote)


@pytest.fixture
async def theirs(session: AsyncSession) -> RepoNote:
    """Globex's rows, with Acme's note "shared" of the same code."""
    globex = notes(session, GLOBEX)
    await globex.add_all(RepoNote(code=f"g{i}", body="globex") for i in range(3))
    await notes(session, ACME).add(RepoNote(code="shared", body="acme"))
    return await globex.add(RepoNote(code="shared", body="globex"))


async def test_reads_see_one_tenant(session: AsyncSession, theirs: RepoNote) -> None:
    acme = notes(session, ACME)
    assert await acme.count() == 1
    assert [note.body for note in await acme.list()] == ["acme"]
    assert (await acme.get({"code": "shared"})).body == "acme"
    assert await acme.exists({"code": "g0"}) is False
    assert await acme.get_or_none({"id": theirs.id}) is None
    assert await acme.first({"body": "globex"}) is None
    with pytest.raises(NotFoundException):
        await acme.get_by_id(theirs.id)
    page = await acme.paginate(page_size=1)
    assert (page["total"], len(page["items"])) == (1, 1)
    cursor_page = await acme.cursor_paginate(limit=1)
    assert [note.body for note in cursor_page["items"]] == ["acme"]
    assert cursor_page["has_more"] is False
    assert await notes(session, str(GLOBEX)).count() == 4  # a text id is parsed


async def test_inserts_are_stamped_with_the_tenant(session: AsyncSession) -> None:
    acme = notes(session, ACME)
    note = await acme.add(RepoNote(code="a", tenant_id=GLOBEX))  # overridden
    assert note.tenant_id == ACME
    assert await acme.bulk_create_values([{"code": "b"}, {"code": "c", "tenant_id": GLOBEX}]) == 2
    assert await acme.bulk_upsert([{"code": "d"}], conflict_columns=["tenant_id", "code"]) == 1
    everything = await BaseRepository(session, model=RepoNote).list()
    assert {note.tenant_id for note in everything} == {ACME}


async def test_writes_cannot_reach_another_tenant(session: AsyncSession, theirs: RepoNote) -> None:
    acme = notes(session, ACME)
    with pytest.raises(NotFoundException):
        await acme.delete(theirs.id)
    with pytest.raises(NotFoundException):
        await acme.soft_delete(theirs.id)
    with pytest.raises(NotFoundException):
        await acme.restore(theirs.id)
    theirs.body = "hacked"
    with pytest.raises(NotFoundException):
        await acme.update(theirs)
    assert await acme.delete_batch([theirs.id]) == 0
    assert await acme.bulk_update({"code": "shared"}, {"body": "edited"}) == 1
    assert await acme.delete_many({"body": "globex"}) == 0
    with pytest.raises(ValidationException, match="tenant_id"):
        await acme.bulk_update({"code": "shared"}, {"tenant_id": GLOBEX})

    globex = notes(session, GLOBEX)
    assert {note.body for note in await globex.list()} == {"globex"}
    assert await globex.count() == 4


async def test_an_upsert_never_updates_another_tenants_row(session: AsyncSession) -> None:
    acme = notes(session, ACME)
    globex = notes(session, GLOBEX)
    their_note = await globex.add(RepoNote(code="c1", body="globex"))
    # The conflict key is the row id: Acme sends Globex's id.
    rows = [{"id": their_note.id, "code": "c1", "body": "acme"}]
    assert await acme.bulk_upsert(rows, conflict_columns=["id"]) == 0
    assert (await globex.get_by_id(their_note.id)).body == "globex"


async def test_the_tenant_column_must_exist(session: AsyncSession) -> None:
    with pytest.raises(ValidationException, match="tenant column"):
        TenantScopedRepository(session, tenant_id=ACME, model=RepoItem)
    with pytest.raises(TypeError, match="tenant_id"):
        TenantScopedRepository(session, tenant_id=None, model=RepoNote)
    with pytest.raises(TypeError, match="tenant_id"):
        TenantScopedRepository(session, tenant_id="acme", model=RepoNote)
