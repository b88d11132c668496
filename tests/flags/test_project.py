"""The project's flags: settings, the app's lifespan and readiness, make_flag_dependency."""

from __future__ import annotations

import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI, Header

from tempest.apps import apps
from tempest.conf import Settings, settings
from tempest.core.asgi import get_asgi_application
from tempest.db import reset_database
from tempest.exceptions import ImproperlyConfigured
from tempest.flags import (
    FeatureFlags,
    FlagState,
    InvalidFlagError,
    MemoryFeatureFlagBackend,
    get_flags,
    make_flag_dependency,
)
from tempest.flags.project import set_flags
from tests.services import PrivateRedis, private_redis

__all__ = ["private_redis"]

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("restore_root_logging")]

ROUTERS = """
from fastapi import APIRouter, Depends, Header

from tempest.flags import get_flags, make_flag_dependency

router = APIRouter()


def user(x_user: str = Header("")) -> str:
    return x_user


@router.get("/beta", dependencies=[Depends(make_flag_dependency("beta"))])
async def beta() -> dict[str, bool]:
    return {"beta": True}


@router.get("/state/{name}")
async def state(name: str, who: str = Depends(user)) -> dict[str, bool]:
    return {"enabled": get_flags().is_enabled(name, who or None)}
"""


@pytest.fixture
def build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Any]]:
    """The app of an ad-hoc app package, with these settings values."""
    monkeypatch.syspath_prepend(str(tmp_path))

    def make(**values: Any) -> tuple[FastAPI, str]:
        name = f"flagged_{uuid.uuid4().hex[:8]}"
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text("")
        (tmp_path / name / "routers.py").write_text(textwrap.dedent(ROUTERS))
        values.setdefault("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite3'}")
        settings.configure(Settings(INSTALLED_APPS=[name], **values))  # type: ignore[attr-defined]
        return get_asgi_application(), name

    yield make
    set_flags(None)
    apps.reset()
    settings.reset()  # type: ignore[attr-defined]
    reset_database()


def client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_settings_then_environment_with_the_environment_winning(
    build: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLAG_KILL_SWITCH", "on")
    monkeypatch.setenv("FLAG_TYPO", "maybe")  # skipped with a warning, not fatal
    app, name = build(FEATURE_FLAGS={"beta": True, "kill_switch": False, "search": "25%"})
    async with app.router.lifespan_context(app), client(app) as http:
        assert (await http.get(f"/api/{name}/beta")).json() == {"beta": True}
        assert (await http.get(f"/api/{name}/state/kill_switch")).json() == {"enabled": True}
        flags = get_flags()
        assert flags.get("search") == FlagState(True, 25)
        await flags.disable("beta")  # the in-process store: this process sees it at once
        answer = await http.get(f"/api/{name}/beta")
        assert answer.status_code == 404
        assert answer.json() == {
            "detail": "Not found: this feature is not enabled.",
            "code": "FEATURE_DISABLED",
            "details": {"flag": "beta"},
        }
        await flags.reset("beta")  # back to the FEATURE_FLAGS default
        assert (await http.get(f"/api/{name}/beta")).status_code == 200
        readiness = await http.get("/health/readiness")
        assert "flags" not in readiness.json()["checks"]  # memory: nothing to check


async def test_broken_feature_flags_stop_the_app_from_building(build: Any) -> None:
    with pytest.raises(ImproperlyConfigured, match="FEATURE_FLAGS: flag 'new checkout'"):
        build(FEATURE_FLAGS={"new checkout": True})
    with pytest.raises(ImproperlyConfigured, match="percentage 150 is outside 0 to 100"):
        build(FEATURE_FLAGS={"beta": 150})


async def test_redis_flags_are_checked_by_readiness_and_redis_down_is_never_a_500(
    build: Any, private_redis: PrivateRedis
) -> None:
    app, name = build(REDIS_URL=private_redis.url, FEATURE_FLAGS={"beta": False})
    async with app.router.lifespan_context(app), client(app) as http:
        assert (await http.get(f"/api/{name}/beta")).status_code == 404
        await get_flags().enable("beta")  # stored in Redis, over the default
        assert (await http.get(f"/api/{name}/beta")).status_code == 200
        ready = await http.get("/health/readiness")
        assert ready.json()["checks"]["flags"] == "ok"
        private_redis.kill()
        for _ in range(20):
            assert (await http.get(f"/api/{name}/beta")).status_code == 200  # last snapshot
        down = await http.get("/health/readiness")
        assert down.status_code == 503
        assert down.json()["checks"]["flags"] == "failing"
        assert down.json()["checks"]["database"] == "ok"


def subject(x_user: str = Header("")) -> str:
    return x_user


async def test_make_flag_dependency_gates_or_injects_and_keys_rollouts_by_subject() -> None:
    flags = FeatureFlags(MemoryFeatureFlagBackend({"beta": "50%", "off": False}))
    await flags.start()
    app = FastAPI()
    from tempest.api import register_exception_handlers

    register_exception_handlers(app)

    @app.get("/gated", dependencies=[Depends(make_flag_dependency(flags, "beta", subject=subject))])
    async def gated() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/branch")
    async def branch(
        on: bool = Depends(make_flag_dependency(flags, "off", required=False)),
    ) -> dict[str, bool]:
        return {"on": on}

    try:
        async with client(app) as http:
            users = [f"user-{i}" for i in range(200)]
            codes = [(await http.get("/gated", headers={"X-User": u})).status_code for u in users]
            assert codes == [200 if flags.is_enabled("beta", u) else 404 for u in users]
            assert 70 <= codes.count(200) <= 130
            assert (await http.get("/branch")).json() == {"on": False}
    finally:
        await flags.aclose()


def test_make_flag_dependency_refuses_bad_arguments() -> None:
    with pytest.raises(InvalidFlagError, match="invalid flag name 'new checkout'"):
        make_flag_dependency("new checkout")
    with pytest.raises(TypeError, match="takes a flag name, or a FeatureFlags and a flag name"):
        make_flag_dependency(FeatureFlags())
    with pytest.raises(TypeError, match="takes a flag name"):
        make_flag_dependency("beta", "beta")
