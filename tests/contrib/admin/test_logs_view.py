"""The admin's log viewer (``/admin/logs``): the files of LOG_DIR, for signed-in admins only."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tempest.core.logging import configure_logging
from tests.contrib.admin.conftest import AdminClient, AdminEnv, operator_admin

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("restore_root_logging")]


def _write_logs(log_dir: Path) -> None:
    configure_logging(level="INFO", log_dir=log_dir)
    logger = logging.getLogger("tests.admin.logs")
    logger.info("order <b>placed</b>", extra={"order_id": 7})
    try:
        raise RuntimeError("payment gateway timeout")
    except RuntimeError:
        logger.exception("charge failed")
    configure_logging(level="INFO")  # closes the files


async def _client(env: AdminEnv, log_dir: str) -> AsyncIterator[AdminClient]:
    app = operator_admin(env, log_dir=log_dir)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=True)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield AdminClient(http)


@pytest.fixture
async def viewer(env: AdminEnv, tmp_path: Path) -> AsyncIterator[AdminClient]:
    """A signed-in admin on an admin whose Logs page reads ``tmp_path``."""
    _write_logs(tmp_path)
    async for client in _client(env, str(tmp_path)):
        response = await client.login()
        assert response.status_code == 303, response.text
        yield client


async def test_admin_reads_the_logs(viewer: AdminClient) -> None:
    page = await viewer.get("/logs")
    errors = await viewer.get("/logs", params={"source": "error", "q": "CHARGE"})

    assert page.status_code == 200, page.text
    assert page.text.count('data-testid="log-entry"') == 2
    assert "order &lt;b&gt;placed&lt;/b&gt;" in page.text  # escaped
    assert 'data-testid="nav-logs"' in page.text
    assert errors.status_code == 200
    assert errors.text.count('data-testid="log-entry"') == 1
    assert "RuntimeError: payment gateway timeout" in errors.text


async def test_the_viewer_says_when_file_logging_is_off(env: AdminEnv) -> None:
    async for client in _client(env, ""):
        assert (await client.login()).status_code == 303
        page = await client.get("/logs")

        assert page.status_code == 200
        assert 'data-testid="logs-off"' in page.text


@pytest.mark.parametrize(
    "params",
    [{"source": "../../etc/passwd"}, {"source": "secrets"}, {"start": "yesterday"}],
    ids=["traversal", "unknown-source", "bad-date"],
)
async def test_bad_parameters_are_a_400_page(viewer: AdminClient, params: dict[str, str]) -> None:
    page = await viewer.get("/logs", params=params)

    assert page.status_code == 400
    assert "root:" not in page.text


async def test_a_huge_page_is_a_400_page(viewer: AdminClient) -> None:
    page = await viewer.get("/logs", params={"page": "99999999"})

    assert page.status_code == 400


async def test_anonymous_visitors_are_sent_to_sign_in(anonymous: AdminClient) -> None:
    page = await anonymous.get("/logs")

    assert page.status_code == 303
    assert "/admin/login" in page.headers["location"]
