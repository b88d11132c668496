"""The browser-test kit works: live server, Chromium page, external JS, screenshots."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response

from tests.browser import run_async, serve_app_in_thread

PAGE = """<!doctype html>
<html>
  <head><title>Smoke</title><script src="/static/smoke.js" defer></script></head>
  <body>
    <p id="message">Waiting</p>
    <button id="greet" type="button">Greet</button>
    <form method="get" action="/echo">
      <label>Name <input name="name"></label>
      <button type="submit">Send</button>
    </form>
  </body>
</html>
"""

SCRIPT = """document.getElementById("greet").addEventListener("click", () => {
  document.getElementById("message").textContent = "Hello from smoke.js";
});
"""

# No inline script may run: the page's behaviour has to come from the external file.
CSP = {"Content-Security-Policy": "default-src 'self'; script-src 'self'"}


def smoke_app() -> FastAPI:
    app = FastAPI()

    @app.get("/", response_class=HTMLResponse)
    async def index() -> HTMLResponse:
        return HTMLResponse(PAGE, headers=CSP)

    @app.get("/static/smoke.js")
    async def script() -> Response:
        return Response(SCRIPT, media_type="text/javascript")

    @app.get("/echo", response_class=HTMLResponse)
    async def echo(name: str) -> HTMLResponse:
        return HTMLResponse(f'<p id="echo">Got {name}</p>', headers=CSP)

    return app


def test_click_runs_external_script_and_form_submits(page, artifacts_dir: Path) -> None:
    with serve_app_in_thread(smoke_app()) as base_url:
        page.goto(base_url + "/")
        assert page.text_content("#message") == "Waiting"

        page.click("#greet")
        page.wait_for_function(
            "document.getElementById('message').textContent === 'Hello from smoke.js'",
            timeout=5000,
        )

        screenshot = artifacts_dir / "after-click.png"
        page.screenshot(path=str(screenshot))
        assert screenshot.stat().st_size > 0
        assert screenshot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")

        async def fetch_script() -> int:
            async with httpx.AsyncClient() as client:
                return (await client.get(base_url + "/static/smoke.js")).status_code

        assert run_async(fetch_script) == 200  # async code inside a browser test

        page.fill("input[name=name]", "Ada")
        page.click("button[type=submit]")
        page.wait_for_selector("#echo", timeout=5000)
        assert page.text_content("#echo") == "Got Ada"


def test_each_test_gets_a_fresh_context(browser, page) -> None:
    assert browser.contexts == [page.context]
    assert page.context.cookies() == []


@pytest.mark.anyio
async def test_async_tests_still_run_while_the_browser_is_open(browser) -> None:
    # The session's Chromium is up (and Playwright's loop with it), yet this test has its own.
    assert browser.is_connected()
    await asyncio.sleep(0)
    assert asyncio.get_running_loop().is_running()
