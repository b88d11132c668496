"""/docs and /redoc work offline: their scripts, stylesheet and icon come from the app."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI

from tempest.api import serve_docs_offline
from tempest.api.docs import ASSET_VERSIONS, DOCS_STATIC_URL
from tests.browser import serve_app_in_thread
from tests.core.test_asgi import ROUTERS, Build, build, client

__all__ = ["build"]  # the fixture, imported for the tests below

pytestmark = pytest.mark.usefixtures("restore_root_logging")

MEDIA_TYPES = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon.png": "image/png",
    "redoc.standalone.js": "text/javascript; charset=utf-8",
}


class _Links(HTMLParser):
    """Every ``src`` and ``href`` of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [value for name, value in attrs if name in {"src", "href"} and value]


def links(page: str) -> list[str]:
    parser = _Links()
    parser.feed(page)
    return parser.urls


def plain_app(**options: Any) -> FastAPI:
    app = FastAPI(title="Plain", **options)

    @app.get("/items")
    async def items() -> list[int]:
        return [1]

    serve_docs_offline(app)
    return app


# -- bad input first --------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    "path",
    [
        "/nope.js",
        "/..%2Fdocs.py",
        "/docs.py",
        "/README.md",
        "/swagger-ui.css.map",
        "/LICENSE-redoc.txt",
    ],
)
async def test_only_the_vendored_assets_are_served(path: str) -> None:
    async with client(plain_app()) as http:
        response = await http.get(DOCS_STATIC_URL + path)
    assert response.status_code == 404
    assert response.json()["detail"] == "Not Found"


@pytest.mark.anyio
async def test_docs_left_out_stay_out() -> None:
    async with client(plain_app(docs_url=None, redoc_url=None)) as http:
        assert (await http.get("/docs")).status_code == 404
        assert (await http.get("/redoc")).status_code == 404
        assert (await http.get(f"{DOCS_STATIC_URL}/swagger-ui.css")).status_code == 404
        assert (await http.get("/openapi.json")).status_code == 200
    async with client(plain_app(openapi_url=None)) as http:
        for path in ("/docs", "/redoc", "/docs/oauth2-redirect", "/openapi.json"):
            assert (await http.get(path)).status_code == 404, path


@pytest.mark.anyio
async def test_the_apps_docs_options_are_kept() -> None:
    app = plain_app(
        docs_url="/documentation",
        redoc_url=None,
        openapi_url="/schema.json",
        swagger_ui_oauth2_redirect_url="/documentation/callback",
        swagger_ui_parameters={"docExpansion": "none", "validatorUrl": "/validate"},
        swagger_ui_init_oauth={"clientId": "shop-docs"},
    )
    async with client(app) as http:
        assert (await http.get("/docs")).status_code == 404
        assert (await http.get("/redoc")).status_code == 404
        page = (await http.get("/documentation")).text
        assert "url: '/schema.json'" in page
        assert '"docExpansion": "none"' in page
        assert '"validatorUrl": "/validate"' in page
        assert "'/documentation/callback'" in page
        assert '"clientId": "shop-docs"' in page
        redirect = await http.get("/documentation/callback")
        assert redirect.status_code == 200
        assert "swaggerUIRedirectOauth2" in redirect.text


@pytest.mark.anyio
async def test_the_title_is_escaped() -> None:
    app_title = FastAPI(title="<script>alert(1)</script>")
    serve_docs_offline(app_title)
    async with client(app_title) as http:
        for path in ("/docs", "/redoc"):
            page = (await http.get(path)).text
            assert "<title>&lt;script&gt;alert(1)&lt;/script&gt; -" in page, path
            assert "<script>alert" not in page


# -- the project's application ----------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("path", ["/docs", "/redoc"])
async def test_pages_reference_only_same_origin_assets(build: Build, path: str) -> None:
    app = build(ROUTERS, TITLE="Shop")
    async with client(app) as http:
        response = await http.get(path)
        assert response.status_code == 200
        page = response.text
        assert "cdn.jsdelivr" not in page
        assert "fastapi.tiangolo.com" not in page
        assert "fonts.googleapis" not in page
        urls = links(page)
        assert urls, page
        for url in urls:
            assert not urlsplit(url).scheme and not url.startswith("//"), url
            assert url.startswith(DOCS_STATIC_URL + "/"), url
            asset = await http.get(url)
            assert asset.status_code == 200, url
            name = urlsplit(url).path.rsplit("/", 1)[1]
            assert asset.headers["content-type"] == MEDIA_TYPES[name]
            assert "immutable" in asset.headers["cache-control"]
            assert "max-age=31536000" in asset.headers["cache-control"]
            assert asset.headers["x-content-type-options"] == "nosniff"


@pytest.mark.anyio
async def test_every_asset_answers_with_its_type_etag_and_304(build: Build) -> None:
    app = build()
    async with client(app) as http:
        for name in ASSET_VERSIONS:
            url = f"{DOCS_STATIC_URL}/{name}"
            response = await http.get(url)
            assert response.status_code == 200, name
            assert response.headers["content-type"] == MEDIA_TYPES[name]
            assert b"sourceMappingURL=" + name.encode() not in response.content
            etag = response.headers["etag"]
            again = await http.get(url, headers={"If-None-Match": etag})
            assert again.status_code == 304
            assert again.content == b""
            head = await http.head(url)
            assert head.status_code == 200
            assert head.content == b""


@pytest.mark.anyio
async def test_swagger_ui_does_not_call_the_validator(build: Build) -> None:
    async with client(build()) as http:
        page = (await http.get("/docs")).text
    assert '"validatorUrl": null' in page


@pytest.mark.anyio
async def test_asset_urls_follow_the_root_path(build: Build) -> None:
    app = build()
    transport = httpx.ASGITransport(app=app, root_path="/shop")
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        page = (await http.get("/docs")).text
    assert "url: '/shop/openapi.json'" in page
    assert all(url.startswith(f"/shop{DOCS_STATIC_URL}/") for url in links(page)), page


def test_the_asset_route_does_not_slow_api_routes(build: Build) -> None:
    # Matched after every API route: a request to the API never tries it first.
    app = build(ROUTERS)
    paths = [getattr(route, "path", "") for route in app.routes]
    assert paths[-1] == f"{DOCS_STATIC_URL}/{{name}}"
    assert paths[:4] == ["/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"]


# -- a real browser without internet access ---------------------------------------------


def _offline(page: Any, base_url: str) -> list[str]:
    """Refuse every request that is not for the test server; return what was refused."""
    refused: list[str] = []
    local = urlsplit(base_url).netloc

    def handle(route: Any) -> None:
        url = route.request.url
        if urlsplit(url).netloc == local:
            route.continue_()
        else:
            refused.append(url)
            route.abort("internetdisconnected")

    page.context.route("**/*", handle)
    return refused


def test_swagger_ui_renders_the_operations_offline(page: Any, build: Build) -> None:
    app = build(ROUTERS, TITLE="Shop", ALLOWED_HOSTS=["127.0.0.1"])
    with serve_app_in_thread(app) as base_url:
        refused = _offline(page, base_url)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(base_url + "/docs")
        page.wait_for_selector(".opblock", timeout=15000)
        summaries = page.locator(".opblock-summary-path").all_text_contents()
        assert any(path.endswith("/hello") for path in summaries), summaries
        assert page.title() == "Shop - Swagger UI"
        # Open one operation and run it from the page: Swagger UI is fully working.
        page.locator(".opblock", has_text="/hello").first.locator(".opblock-summary").click()
        page.locator(".try-out__btn").first.click()
        page.locator(".execute").first.click()
        page.wait_for_selector(".responses-table .response-col_status", timeout=10000)
        assert '"hello": "world"' in page.locator(".highlight-code").first.text_content()
    assert refused == [], refused
    assert errors == [], errors


def test_redoc_renders_the_operations_offline(page: Any, build: Build) -> None:
    app = build(ROUTERS, TITLE="Shop", ALLOWED_HOSTS=["127.0.0.1"])
    with serve_app_in_thread(app) as base_url:
        refused = _offline(page, base_url)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(base_url + "/redoc")
        page.wait_for_selector("[data-section-id^='tag/'], [data-section-id^='operation/']")
        page.wait_for_function("document.body.innerText.includes('/hello')", timeout=15000)
        assert page.title() == "Shop - ReDoc"
    # ReDoc's "API docs by Redocly" badge asks cdn.redoc.ly for a logo and hides it when
    # that fails; nothing the page needs comes from elsewhere.
    assert all(re.match(r"https://cdn\.redoc\.ly/redoc/logo", url) for url in refused), refused
    assert errors == [], errors
