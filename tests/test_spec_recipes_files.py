"""The spec's "File uploads recipe" (tempest-fastapi-sdk 0.72.0 README), run as written.

Storage, the avatar route, the service's ``set_avatar``, serving the file back (the
``/static/uploads`` mount and the response schema's ``avatar_url``) and private downloads
(``DownloadUtils``), through tests/spec_recipes.py. The reader's names (settings, the
user, the controllers, the repository) are small stand-ins given to each snippet.
"""

from __future__ import annotations

import io
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI

from tempest.api import register_exception_handlers
from tempest.exceptions import ForbiddenException
from tests.files import samples
from tests.spec_recipes import run

pytestmark = pytest.mark.anyio

STORAGE = """
from tempest_fastapi_sdk import UploadUtils

from src.core.settings import settings


avatar_storage = UploadUtils(
    f"{settings.UPLOAD_DIR}/avatars",          # local folder, or pass an AsyncMinIOClient
    max_size_bytes=5 * 1024 * 1024,            # 5 MiB
    allowed_extensions={"png", "jpg", "jpeg", "webp"},
    allowed_mimetypes={"image/png", "image/jpeg", "image/webp"},
    verify_magic_bytes=True,                   # sniff bytes, reject polyglots
)
"""

AVATAR_ROUTE = """
from fastapi import UploadFile

from src.api.dependencies import get_user_controller
from src.controllers.user import UserController
from src.core.storage import avatar_storage


@router.post("/{user_id}/avatar", response_model=UserResponseSchema)
async def upload_avatar(
    user_id: UUID,
    file: UploadFile,
    current: UserModel = Depends(get_current_user),
    controller: UserController = Depends(get_user_controller),
) -> UserResponseSchema:
    if current.id != user_id:
        raise ForbiddenException(message="Só pode editar o próprio avatar")
    path = await avatar_storage.save(file, subdir=str(user_id))
    return await controller.set_avatar(user_id, str(path))
"""

DOWNLOADS = """
from tempest_fastapi_sdk import DownloadUtils

from src.core.settings import settings


invoice_files = DownloadUtils(f"{settings.UPLOAD_DIR}/invoices")  # local folder, or an AsyncMinIOClient
"""

INVOICE_ROUTES = """
from fastapi.responses import FileResponse

from src.api.dependencies import get_invoice_controller
from src.controllers.invoice import InvoiceController
from src.core.storage import invoice_files


@router.get("/{invoice_id}/file")
async def download_invoice(
    invoice_id: UUID,
    current: UserModel = Depends(get_current_user),
    controller: InvoiceController = Depends(get_invoice_controller),
) -> FileResponse:
    invoice = await controller.get_by_id(invoice_id)
    if invoice.owner_id != current.id:
        raise ForbiddenException(message="Fatura de outro usuário")
    # base_dir confines the read — a stored "../../etc/passwd" path 404s.
    return invoice_files.file_response(
        invoice.file_path,                 # relative to base_dir
        filename=f"fatura-{invoice.number}.pdf",
        as_attachment=True,                # force a download dialog
    )
"""

RECEIPT_ROUTE = """
import io

from fastapi.responses import StreamingResponse

from src.core.storage import invoice_files


@router.get("/{invoice_id}/receipt.csv")
async def download_receipt(
    invoice_id: UUID,
    current: UserModel = Depends(get_current_user),
    controller: InvoiceController = Depends(get_invoice_controller),
) -> StreamingResponse:
    csv_bytes: bytes = await controller.render_receipt_csv(invoice_id, current.id)
    return invoice_files.stream(
        csv_bytes,                         # bytes, or a (sync/async) byte generator
        filename="recibo.csv",
    )
"""

USER = SimpleNamespace(id=uuid.uuid4())


class Controller:
    """The reader's controllers: set_avatar records the path; invoices point at files."""

    def __init__(self) -> None:
        self.avatars: dict[UUID, str] = {}
        self.invoices: dict[UUID, Any] = {}

    async def set_avatar(self, user_id: UUID, path: str) -> dict[str, str]:
        self.avatars[user_id] = path
        return {"avatar_path": path}

    async def get_by_id(self, invoice_id: UUID) -> Any:
        return self.invoices[invoice_id]

    async def render_receipt_csv(self, invoice_id: UUID, user_id: UUID) -> bytes:
        return "valor;descrição\n10,00;café\n".encode()


async def test_the_upload_and_download_recipes_run_as_written(tmp_path: Path) -> None:
    controller = Controller()
    reader: dict[str, Any] = {
        "settings": SimpleNamespace(UPLOAD_DIR=str(tmp_path)),
        "router": APIRouter(),
        "UUID": UUID,
        "Depends": Depends,
        "UserModel": SimpleNamespace,
        "UserResponseSchema": dict,
        "ForbiddenException": ForbiddenException,
        "get_current_user": lambda: USER,
        "get_user_controller": lambda: controller,
        "get_invoice_controller": lambda: controller,
        "UserController": Controller,
        "InvoiceController": Controller,
        "io": io,
    }
    reader |= await run(STORAGE, reader, title="src/core/storage.py")
    reader |= await run(DOWNLOADS, reader, title="src/core/storage.py (downloads)")
    await run(AVATAR_ROUTE, reader, title="src/api/routers/users.py")
    await run(INVOICE_ROUTES, reader, title="src/api/routers/invoices.py")
    await run(RECEIPT_ROUTE, reader, title="src/api/routers/invoices.py (receipt)")

    app = FastAPI()
    register_exception_handlers(app)
    app.include_router(reader["router"])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        png = samples.png()
        sent = await client.post(f"/{USER.id}/avatar", files={"file": ("me.png", png, "image/png")})
        assert sent.status_code == 200, sent.text
        path = controller.avatars[USER.id]
        assert path.startswith(f"{USER.id}/") and path.endswith(".png")
        assert (tmp_path / "avatars" / path).read_bytes() == png
        polyglot = await client.post(
            f"/{USER.id}/avatar",
            files={"file": ("me.png", b"\x89PNG\r\n\x1a\n<html><script>", "image/png")},
        )
        assert (polyglot.status_code, polyglot.json()["code"]) == (415, "INVALID_FILE_TYPE")

        (tmp_path / "invoices").mkdir()
        (tmp_path / "invoices" / "17.pdf").write_bytes(samples.pdf())
        (tmp_path / "passwd").write_text("root:x:0:0")
        good, evil = uuid.uuid4(), uuid.uuid4()
        controller.invoices[good] = SimpleNamespace(owner_id=USER.id, file_path="17.pdf", number=17)
        controller.invoices[evil] = SimpleNamespace(
            owner_id=USER.id, file_path="../passwd", number=18
        )
        invoice = await client.get(f"/{good}/file")
        assert invoice.content == samples.pdf()
        assert invoice.headers["content-disposition"] == 'attachment; filename="fatura-17.pdf"'
        escape = await client.get(f"/{evil}/file")
        assert escape.status_code == 404 and b"root:x" not in escape.content
        receipt = await client.get(f"/{good}/receipt.csv")
        assert receipt.content == "valor;descrição\n10,00;café\n".encode()
        assert receipt.headers["content-disposition"] == 'attachment; filename="recibo.csv"'


SET_AVATAR = """
# src/services/user.py
class UserService:
    async def set_avatar(self, user_id: UUID, path: str) -> UserResponseSchema:
        user = await self.repo.get_by_id(user_id)
        # Delete previous file when replacing (delete() is async).
        if user.avatar_path and user.avatar_path != path:
            await avatar_storage.delete(user.avatar_path)
        user.avatar_path = path
        user = await self.repo.update(user)
        return self.repo.map_to_response(user)


# src/controllers/user.py
class UserController:
    async def set_avatar(self, user_id: UUID, path: str) -> UserResponseSchema:
        return await self.service.set_avatar(user_id, path)
"""

SERVE_MOUNT = """
from fastapi.staticfiles import StaticFiles

app.mount(
    "/static/uploads",
    StaticFiles(directory=settings.UPLOAD_DIR),
    name="uploads",
)
"""

SERVE_SCHEMA = """
class UserResponseSchema(BaseResponseSchema):
    name: str
    email: EmailStr
    avatar_url: str | None = None

    @field_validator("avatar_url", mode="before")
    @classmethod
    def _absolute_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        # avatar_path stored as relative path → public URL
        return f"/static/uploads/{value}"
"""

# Erratum: avatar_storage keeps its files under UPLOAD_DIR/avatars and save() returns keys
# relative to that folder, while the mount serves UPLOAD_DIR itself: the URL needs the
# "avatars/" segment (as printed it 404s).
AVATARS_SEGMENT = (('f"/static/uploads/{value}"', 'f"/static/uploads/avatars/{value}"'),)


class UserRepository:
    """The reader's repository, as far as set_avatar uses it (one user, in memory)."""

    def __init__(self, user: Any, schema: Any) -> None:
        self.user, self.schema = user, schema

    async def get_by_id(self, user_id: UUID) -> Any:
        assert user_id == self.user.id
        return self.user

    async def update(self, user: Any) -> Any:
        return user

    def map_to_response(self, user: Any) -> Any:
        return self.schema(
            id=user.id,
            created_at=user.created_at,
            updated_at=user.updated_at,
            is_active=True,
            name=user.name,
            email=user.email,
            avatar_url=user.avatar_path,
        )


async def test_set_avatar_replaces_the_file_and_the_url_serves_it(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from pydantic import EmailStr, field_validator

    from tempest import BaseResponseSchema

    settings = SimpleNamespace(UPLOAD_DIR=str(tmp_path))
    reader: dict[str, Any] = {"settings": settings, "UUID": UUID}
    reader |= await run(STORAGE, reader, title="src/core/storage.py")
    schema_names = {
        "BaseResponseSchema": BaseResponseSchema,
        "EmailStr": EmailStr,
        "field_validator": field_validator,
    }
    schema = (await run(SERVE_SCHEMA, schema_names, replace=AVATARS_SEGMENT))["UserResponseSchema"]
    reader["UserResponseSchema"] = schema
    layers = await run(SET_AVATAR, reader, title="src/services/user.py")
    now = datetime.now(UTC)
    user = SimpleNamespace(
        id=uuid.uuid4(),
        created_at=now,
        updated_at=now,
        name="Ana",
        email="ana@example.com",
        avatar_path=None,
    )
    service = layers["UserService"]()
    service.repo = UserRepository(user, schema)
    controller = layers["UserController"]()
    controller.service = service

    storage = reader["avatar_storage"]
    first = await storage.save(samples.png(), subdir=str(user.id), original_filename="a.png")
    await controller.set_avatar(user.id, str(first))
    second = await storage.save(samples.png(), subdir=str(user.id), original_filename="b.png")
    answer = await controller.set_avatar(user.id, str(second))
    assert not (tmp_path / "avatars" / str(first)).exists()  # the previous file is gone
    assert answer.avatar_url == f"/static/uploads/avatars/{second}"

    app = FastAPI()
    await run(SERVE_MOUNT, {"app": app, "settings": settings}, title="Serving the file back")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        served = await client.get(answer.avatar_url)
    assert served.status_code == 200 and served.content == samples.png()
