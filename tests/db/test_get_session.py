"""tempest.db.get_session: the request's session as FastAPI gives it to routes."""

from collections.abc import Iterator
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from sqlalchemy import String, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column
from starlette.requests import HTTPConnection

from tempest.api import register_exception_handlers
from tempest.db import AsyncDatabaseManager, BaseModel, atomic, get_session
from tempest.exceptions import ConflictException

pytestmark = pytest.mark.anyio


class Note(BaseModel):
    __tablename__ = "dependency_note"
    text: Mapped[str] = mapped_column(String(50))


Session = Annotated[AsyncSession, Depends(get_session)]


@pytest.fixture
def app(database: AsyncDatabaseManager, monkeypatch: pytest.MonkeyPatch) -> Iterator[FastAPI]:
    """An app whose routes use the project's database, here the test database."""
    monkeypatch.setattr("tempest.db.session._database", database)
    api = FastAPI()
    register_exception_handlers(api)

    async def same_session(session: Session) -> AsyncSession:
        return session

    @api.post("/notes")
    async def add_note(
        text: str, session: Session, also: Annotated[AsyncSession, Depends(same_session)]
    ) -> dict[str, Any]:
        assert session is also  # one session per request, whoever asks for it
        session.add(Note(text=text))  # left pending: the end of the request saves it
        if text == "refused":
            raise ConflictException("refused")
        if text == "crash":
            raise RuntimeError("the endpoint failed")
        return {"pending": len(session.new)}

    @api.get("/notes")
    async def count_notes(session: Session) -> int:
        return int(await session.scalar(select(func.count()).select_from(Note)) or 0)

    yield api


def client(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


async def test_pending_changes_are_saved_when_the_request_succeeds(
    app: FastAPI, database: AsyncDatabaseManager
) -> None:
    async with client(app) as http:
        assert (await http.post("/notes", params={"text": "kept"})).json() == {"pending": 1}
        assert (await http.get("/notes")).json() == 1
    assert database.engine.sync_engine.pool.checkedout() == 0  # type: ignore[attr-defined]


@pytest.mark.parametrize(("text", "status"), [("refused", 409), ("crash", 500)])
async def test_pending_changes_are_discarded_when_the_endpoint_raises(
    app: FastAPI, database: AsyncDatabaseManager, text: str, status: int
) -> None:
    async with client(app) as http:
        assert (await http.post("/notes", params={"text": text})).status_code == status
        assert (await http.get("/notes")).json() == 0
    assert database.engine.sync_engine.pool.checkedout() == 0  # type: ignore[attr-defined]


async def test_outside_a_route_it_says_how_to_get_a_session() -> None:
    with pytest.raises(RuntimeError, match=r"Depends\(get_session\).*request_session\(\)"):
        await get_session(HTTPConnection({"type": "http", "headers": []}))


async def test_a_failed_inner_atomic_block_in_a_route_rolls_back_only_its_writes(
    database: AsyncDatabaseManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tempest.db.session._database", database)
    api = FastAPI()

    @api.post("/two")
    async def add_two(session: Session) -> dict[str, Any]:
        async with atomic(session):
            session.add(Note(text="outer"))
            await session.flush()
            try:
                async with atomic(session):
                    session.add(Note(text="inner"))
                    await session.flush()
                    raise ValueError("inner fails")
            except ValueError:
                pass
        return {"ok": True}

    async with client(api) as http:
        assert (await http.post("/two")).json() == {"ok": True}
    async with database.request_session() as session:
        assert (await session.scalars(select(Note.text))).all() == ["outer"]
