"""Browser tests: a real Chromium driven by Playwright's sync API, and a live server for it.

Registered as a pytest plugin by ``tests/conftest.py``, so every test can ask for the
fixtures ``browser`` (one Chromium for the whole run), ``page`` (a tab in a fresh browser
context: no cookies or storage shared between tests) and ``artifacts_dir`` (where a test
saves screenshots). ``serve_app_in_thread`` serves an ASGI app with uvicorn for the browser.

We use Debian's ``chromium`` package (``/usr/bin/chromium``), never the browsers that
``playwright install`` downloads. Without Chromium or Playwright the browser tests are
skipped, or fail under ``TEMPEST_REQUIRE_SERVICES=1`` (as ``.ci/run`` sets).

Playwright's sync API and the suite's async tests share the main thread. While Playwright
runs, the thread's "running event loop" is Playwright's own loop, and then ``asyncio.run``
and anyio's test runner refuse to start. So this plugin marks that loop as running only
while Playwright code can run: inside these fixtures and during the call of a test that
uses them. Browser tests are therefore plain ``def`` tests; to run async code in one (say,
to put rows in a database), use ``run_async``.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import re
import shutil
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Generator, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import pytest

from tests.conftest import SERVICES_REQUIRED
from tests.helpers import REPO

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS_VARIABLE = "TEMPEST_TEST_ARTIFACTS"

T = TypeVar("T")


def _unavailable(message: str) -> NoReturn:
    """Skip the test, or fail it when the run requires every service."""
    if SERVICES_REQUIRED:
        pytest.fail(message + " (TEMPEST_REQUIRE_SERVICES=1)")
    pytest.skip(message)


class _PlaywrightLoop:
    """Playwright's event loop, marked as the thread's running loop only when asked."""

    loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    @contextmanager
    def active(cls) -> Iterator[None]:
        """Let Playwright's sync API run in this block; afterwards the thread is free again."""
        if cls.loop is not None:
            asyncio.events._set_running_loop(cls.loop)
        try:
            yield
        finally:
            # A sync call marks Playwright's loop as running when it returns: take that back.
            cls.loop = asyncio.events._get_running_loop() or cls.loop
            asyncio.events._set_running_loop(None)


def playwright_calls() -> AbstractContextManager[None]:
    """Make Playwright calls from a fixture (test bodies need nothing: the hook below does it)."""
    return _PlaywrightLoop.active()


def run_async(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion from inside a browser test, on a loop of its own.

    Args:
        make: Makes the coroutine, e.g. ``lambda: create_user(...)``.

    Returns:
        What the coroutine returned.
    """
    playwright_loop = asyncio.events._get_running_loop()
    asyncio.events._set_running_loop(None)
    try:
        return asyncio.run(make())
    finally:
        asyncio.events._set_running_loop(playwright_loop)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    """Run the body of a test that uses the browser with Playwright's loop marked running."""
    uses_browser = "browser" in getattr(item, "fixturenames", ())
    if not uses_browser or inspect.iscoroutinefunction(getattr(item, "obj", None)):
        return (yield)
    with _PlaywrightLoop.active():
        return (yield)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the whole run, closed at its end."""
    if not os.access(CHROMIUM, os.X_OK):
        _unavailable(f"{CHROMIUM} is missing: browser tests need Debian's chromium package")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed: browser tests need the dev dependencies")
    playwright: Playwright | None = None
    chromium: Browser | None = None
    try:
        with _PlaywrightLoop.active():
            playwright = sync_playwright().start()
            chromium = playwright.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
            )
        yield chromium
    finally:
        with _PlaywrightLoop.active():
            if chromium is not None:
                chromium.close()
            if playwright is not None:
                playwright.stop()
        _PlaywrightLoop.loop = None


@pytest.fixture
def page(request: pytest.FixtureRequest, browser: Browser) -> Iterator[Page]:
    """A tab in a fresh browser context: cookies and storage do not leak between tests."""
    if inspect.iscoroutinefunction(getattr(request.node, "obj", None)):
        pytest.fail("browser tests are plain def tests; use tests.browser.run_async for async code")
    with _PlaywrightLoop.active():
        context = browser.new_context()
        tab = context.new_page()
    try:
        yield tab
    finally:
        with _PlaywrightLoop.active():
            context.close()


@pytest.fixture
def artifacts_dir(request: pytest.FixtureRequest) -> Path:
    """An empty directory for this test's screenshots, kept after the run.

    ``test-artifacts/<test>/`` at the repository root, or under ``$TEMPEST_TEST_ARTIFACTS``.
    """
    root = Path(os.environ.get(ARTIFACTS_VARIABLE) or REPO / "test-artifacts")
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid).strip("_")
    directory = root / name
    shutil.rmtree(directory, ignore_errors=True)  # no screenshot of an earlier run stays
    directory.mkdir(parents=True)
    return directory


@contextmanager
def serve_app_in_thread(
    app: Callable[..., Awaitable[None]], host: str = "127.0.0.1", timeout: float = 10
) -> Iterator[str]:
    """Serve an ASGI app with uvicorn in a background thread, on a free port.

    The server runs on an event loop of its own thread, so the test thread stays free for
    the browser. Leaving the block stops the server and waits for the thread.

    Args:
        app: The ASGI application (e.g. a FastAPI app).
        host: The address to listen on.
        timeout: Seconds to wait for the server to start, and again to stop.

    Yields:
        The base URL, e.g. ``http://127.0.0.1:40123`` (no trailing slash).
    """
    import uvicorn

    config = uvicorn.Config(
        app, host=host, port=0, log_config=None, log_level="warning", access_log=False
    )
    server = uvicorn.Server(config)
    failure: list[BaseException] = []

    def serve() -> None:
        try:
            server.run()
        except BaseException as error:  # SystemExit when the startup fails
            failure.append(error)

    thread = threading.Thread(target=serve, name="uvicorn-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            thread.join(timeout)
            raise RuntimeError(f"the test server did not start: {failure or 'timed out'}")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout)
        if thread.is_alive():
            server.force_exit = True
            thread.join(timeout)
