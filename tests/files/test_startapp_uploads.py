"""A file column on the startapp example, served by ``manage.py runserver``.

The generated ``OrderModel`` gets a ``receipt`` (PNG or PDF, at most 2,000 bytes) and two
routes: a multipart upload and a download. ``makemigrations`` writes the column as plain
``sa.JSON()`` and leaves no drift; files land in the default storage (``./var/uploads``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.files.samples import pdf, png
from tests.helpers import serve_project, tempest, without_contrib_apps
from tests.warm import warm_manage

pytestmark = pytest.mark.e2e

LIMIT = 2000

MODEL_IMPORTS = "from tempest.db import BaseModel, FileField, StoredFile\n"

RECEIPT_COLUMN = """    receipt: Mapped[StoredFile | None] = mapped_column(
        FileField("receipts", allowed_types={"image/png", "application/pdf"}, max_size=2000),
        default=None,
    )
"""

RECEIPT_ROUTES = '''

from fastapi import UploadFile
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response
from tempest.db import atomic, get_session, save_upload
from tempest.exceptions import NotFoundException

from orders.models import OrderModel

Session = Annotated[AsyncSession, Depends(get_session)]


@router.put("/{order_id}/receipt", responses=error_responses(404, 413, 415))
async def upload_receipt(order_id: UUID, file: UploadFile, session: Session) -> dict[str, object]:
    """Check and store the order's receipt (PNG or PDF)."""
    order = await session.get(OrderModel, order_id)
    if order is None:
        raise NotFoundException("No such order")
    receipt = await save_upload(OrderModel.receipt, file)
    async with atomic(session):
        order.receipt = receipt
    return receipt.to_dict()


@router.get("/{order_id}/receipt", responses=error_responses(404))
async def download_receipt(order_id: UUID, session: Session) -> Response:
    """The order's receipt, streamed from the storage."""
    order = await session.get(OrderModel, order_id)
    if order is None or order.receipt is None:
        raise NotFoundException("No receipt")
    return order.receipt.response()
'''


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``shop`` with ``orders``, whose orders have a receipt, migrated."""
    root = tmp_path_factory.mktemp("uploads")
    created = tempest(root, "startproject", "shop")
    assert created.returncode == 0, created.stderr
    project = root / "shop"
    without_contrib_apps(project)  # open routes: no sign-in in the way
    made = warm_manage(project, "startapp", "orders")
    assert made.returncode == 0, made.stderr
    models = project / "orders" / "models.py"
    text = models.read_text()
    text = text.replace("from tempest.db import BaseModel\n", MODEL_IMPORTS)
    anchor = "    description: Mapped[str | None] = mapped_column(String(2000), default=None)\n"
    assert anchor in text, text
    models.write_text(text.replace(anchor, anchor + RECEIPT_COLUMN))
    schemas = project / "orders" / "schemas.py"
    text = schemas.read_text()
    anchor = "    name: str\n    description: str | None\n"
    assert text.count(anchor) == 1, text
    schemas.write_text(
        "from tempest.db import StoredFile\n"
        + text.replace(anchor, anchor + "    receipt: StoredFile | None = None\n")
    )
    with (project / "orders" / "routers.py").open("a") as routers:
        routers.write(RECEIPT_ROUTES)
    for step in ("makemigrations", "migrate"):
        result = warm_manage(project, step)
        assert result.returncode == 0, result.stdout + result.stderr
    return project


@pytest.fixture(scope="module")
def base_url(project: Path) -> Iterator[str]:
    with serve_project(project, "runserver", "--noreload", capture=True) as (base, _):
        yield base


def test_the_migration_writes_plain_json_and_leaves_no_drift(project: Path) -> None:
    [revision] = (project / "orders" / "migrations").glob("*.py")
    source = revision.read_text()
    assert "sa.Column('receipt', sa.JSON(), nullable=True)" in source, source
    assert "tempest" not in source.split('"""', 2)[2]  # the code imports no tempest
    check = warm_manage(project, "makemigrations", "--check")
    assert check.returncode == 0, check.stdout + check.stderr
    checked = warm_manage(project, "check", "--tag", "storage")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "no issues" in checked.stdout


def make_order(base_url: str, client: httpx.Client) -> str:
    created = client.post(f"{base_url}/api/orders", json={"name": "Coffee"})
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def test_upload_then_download_the_receipt(base_url: str, project: Path) -> None:
    with httpx.Client(timeout=10) as client:
        order = make_order(base_url, client)
        url = f"{base_url}/api/orders/{order}/receipt"
        uploaded = client.put(url, files={"file": ("ticket.png", png(), "image/png")})
        assert uploaded.status_code == 200, uploaded.text
        document = uploaded.json()
        assert document["name"] == "ticket.png" and document["size"] == len(png())
        assert (project / "var" / "uploads" / document["key"]).read_bytes() == png()
        downloaded = client.get(url)
        assert downloaded.status_code == 200
        assert downloaded.content == png()
        assert downloaded.headers["content-type"] == "image/png"
        assert downloaded.headers["content-disposition"] == 'attachment; filename="ticket.png"'
        shown = client.get(f"{base_url}/api/orders/{order}")
        assert shown.json()["receipt"] == document


def test_a_pdf_receipt_up_to_the_limit_is_taken(base_url: str) -> None:
    body = pdf() + b"%" * (LIMIT - len(pdf()))
    with httpx.Client(timeout=10) as client:
        order = make_order(base_url, client)
        url = f"{base_url}/api/orders/{order}/receipt"
        uploaded = client.put(url, files={"file": ("r.pdf", body, "application/pdf")})
        assert uploaded.status_code == 200, uploaded.text
        assert client.get(url, headers={"range": "bytes=0-4"}).content == b"%PDF-"


def test_a_file_of_another_type_is_a_415(base_url: str) -> None:
    html = b"<!doctype html><script>alert(1)</script>"
    with httpx.Client(timeout=10) as client:
        order = make_order(base_url, client)
        url = f"{base_url}/api/orders/{order}/receipt"
        refused = client.put(url, files={"file": ("r.png", html, "image/png")})
        assert refused.status_code == 415, refused.text
        assert refused.json()["code"] == "INVALID_FILE_TYPE"
        assert client.get(url).status_code == 404  # nothing was stored for the order


def test_a_file_one_byte_over_the_limit_is_a_413(base_url: str) -> None:
    body = pdf() + b"%" * (LIMIT + 1 - len(pdf()))
    with httpx.Client(timeout=10) as client:
        order = make_order(base_url, client)
        url = f"{base_url}/api/orders/{order}/receipt"
        refused = client.put(url, files={"file": ("r.pdf", body, "application/pdf")})
        assert refused.status_code == 413, refused.text
        assert json.loads(refused.text)["code"] == "FILE_TOO_LARGE"
