"""runserver keeps answering while a change breaks the app, and recovers when it is fixed."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tempest.core.management.commands.runserver import (
    APPLICATION_VARIABLE,
    DEBUG_VARIABLE,
    load_application,
)
from tempest.core.management.load_failed import LoadFailedApplication
from tests.helpers import serve_project

BROKEN_ROUTER = "\n\ndef broken(:\n"


def failed(error: BaseException, *, debug: bool, project_dir: Path) -> LoadFailedApplication:
    return LoadFailedApplication(error, debug=debug, project_dir=project_dir)


def raised(code: str, filename: str) -> BaseException:
    """The exception that running ``code`` (as the file ``filename``) raises."""
    try:
        exec(compile(code, filename, "exec"), {})
    except Exception as error:
        return error
    raise AssertionError("the code did not raise")


def client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


# -- the fallback application -------------------------------------------------------------


@pytest.mark.anyio
async def test_without_debug_nothing_about_the_error_leaks(tmp_path: Path) -> None:
    error = raised("password = 'hunter2'\nraise RuntimeError(password)", str(tmp_path / "app.py"))
    app = failed(error, debug=False, project_dir=tmp_path)
    async with client(app) as http:
        for accept in ("text/html", "application/json", "*/*"):
            response = await http.get("/api/orders", headers={"Accept": accept})
            assert response.status_code == 500
            assert response.json() == {
                "detail": "Internal server error",
                "code": "INTERNAL_SERVER_ERROR",
                "details": {},
            }
            assert "hunter2" not in response.text
            assert response.headers["cache-control"] == "no-store"


@pytest.mark.anyio
async def test_debug_page_shows_the_error_the_traceback_and_the_file(tmp_path: Path) -> None:
    filename = str(tmp_path / "orders" / "models.py")
    error = raised("x = 1\nraise ValueError('<b>bad</b> model')", filename)
    app = failed(error, debug=True, project_dir=tmp_path)
    async with client(app) as http:
        response = await http.post("/anything", headers={"Accept": "text/html,*/*;q=0.8"})
    assert response.status_code == 500
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    page = response.text
    assert "ValueError: &lt;b&gt;bad&lt;/b&gt; model" in page
    assert "<b>bad</b>" not in page
    assert "Fix orders/models.py (line 2) and save" in page
    assert "Traceback (most recent call last)" in page


@pytest.mark.anyio
async def test_debug_json_for_a_client_that_asks_for_it(tmp_path: Path) -> None:
    filename = str(tmp_path / "orders" / "routers.py")
    try:
        compile("def broken(:\n", filename, "exec")
    except SyntaxError as syntax_error:
        error: BaseException = syntax_error
    app = failed(error, debug=True, project_dir=tmp_path)
    async with client(app) as http:
        response = await http.get("/api/orders", headers={"Accept": "application/json"})
    assert response.status_code == 500
    body = response.json()
    assert set(body) == {"detail", "code", "details"}
    assert body["code"] == "INTERNAL_SERVER_ERROR"
    assert "Fix orders/routers.py (line 1) and save" in body["detail"]
    assert body["details"]["exception"].startswith("SyntaxError: ")
    assert body["details"]["file"] == filename
    assert body["details"]["line"] == 1
    assert any("def broken(:" in line for line in body["details"]["traceback"])


@pytest.mark.anyio
async def test_head_has_no_body_and_lifespan_and_websockets_are_answered(tmp_path: Path) -> None:
    app = failed(RuntimeError("boom"), debug=True, project_dir=tmp_path)
    async with client(app) as http:
        head = await http.head("/")
    assert head.status_code == 500
    assert head.content == b""

    sent: list[dict[str, Any]] = []
    incoming = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])

    async def receive() -> dict[str, Any]:
        return next(incoming)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app({"type": "lifespan"}, receive, send)
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    sent.clear()
    incoming = iter([{"type": "websocket.connect"}])
    await app({"type": "websocket", "headers": []}, receive, send)
    assert sent == [{"type": "websocket.close", "code": 1011}]


def test_load_application_falls_back_only_when_the_import_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "good_asgi_h7.py").write_text("async def application(scope, receive, send): ...\n")
    (tmp_path / "bad_asgi_h7.py").write_text("import nowhere_to_be_found_h7\napplication = 1\n")
    monkeypatch.setenv(DEBUG_VARIABLE, "1")
    try:
        monkeypatch.setenv(APPLICATION_VARIABLE, "good_asgi_h7:application")
        assert load_application() is sys.modules["good_asgi_h7"].application
        monkeypatch.setenv(APPLICATION_VARIABLE, "bad_asgi_h7:application")
        fallback = load_application()
        assert isinstance(fallback, LoadFailedApplication)
        assert "nowhere_to_be_found_h7" in fallback.summary
        assert fallback.culprit_text == "bad_asgi_h7.py (line 1)"
        monkeypatch.setenv(APPLICATION_VARIABLE, "good_asgi_h7:missing")
        assert isinstance(load_application(), LoadFailedApplication)
    finally:
        for name in ("good_asgi_h7", "bad_asgi_h7"):
            sys.modules.pop(name, None)


# -- a real runserver ---------------------------------------------------------------------


def _wait_for_status(url: str, status: int, timeout: float = 60, **headers: str) -> httpx.Response:
    """GET ``url`` until it answers ``status``; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            response = httpx.get(url, headers=headers, timeout=5)
            if response.status_code == status:
                return response
            last = response.status_code
        except httpx.TransportError as error:  # between two server processes
            last = error
        time.sleep(0.3)
    raise AssertionError(f"{url} did not answer {status} within {timeout}s (last: {last})")


@pytest.mark.e2e
@pytest.mark.slow
def test_a_broken_app_is_a_500_page_until_the_file_is_fixed(
    new_project: Callable[..., Path],
) -> None:
    project = new_project("live", "notes")
    routers = project / "notes" / "routers.py"
    good = routers.read_text()
    env = {"ALLOWED_HOSTS": '["127.0.0.1"]'}
    with serve_project(project, "runserver", env=env, capture=True) as (base, process):
        try:
            routers.write_text(good + BROKEN_ROUTER)
            page = _wait_for_status(f"{base}/health/liveness", 500, Accept="text/html")
            assert "SyntaxError" in page.text
            assert "Fix notes/routers.py (line" in page.text
            answer = _wait_for_status(f"{base}/health/liveness", 500, Accept="application/json")
            assert answer.json()["code"] == "INTERNAL_SERVER_ERROR"
            assert answer.json()["details"]["file"].endswith("notes/routers.py")

            routers.write_text(good)
            served = _wait_for_status(f"{base}/openapi.json", 200).json()
            assert "/api/notes" in served["paths"]  # the real app, routers included

            # With DEBUG off the same failure is a plain 500, without the traceback.
            dotenv = project / ".env"
            dotenv.write_text(dotenv.read_text().replace("DEBUG=true", "DEBUG=false"))
            routers.write_text(good + BROKEN_ROUTER)
            plain = _wait_for_status(f"{base}/health/liveness", 500, Accept="application/json")
            assert plain.json() == {
                "detail": "Internal server error",
                "code": "INTERNAL_SERVER_ERROR",
                "details": {},
            }
            routers.write_text(good)
            assert _wait_for_status(f"{base}/health/liveness", 200).json()["status"] == "ok"
        except AssertionError:
            process.terminate()
            raise AssertionError(process.communicate(timeout=30)[0]) from None
    output = process.stdout.read() if process.stdout else ""
    # The traceback is logged once per failed load, not once per request.
    failures = output.count("failed to load; every request is answered 500")
    assert failures >= 2, output
    assert output.count("ImproperlyConfigured: App 'notes': importing") == failures, output
