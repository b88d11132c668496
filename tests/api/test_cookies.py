"""set_cookie / clear_cookie: exact attributes, safe defaults, refused names and values."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx
import pytest
from fastapi import FastAPI, Response

from tempest import (
    SameSite as TopSameSite,
    clear_cookie as top_clear_cookie,
    set_cookie as top_set_cookie,
)
from tempest.api import SameSite, clear_cookie, set_cookie


def header(response: Response) -> str:
    """The one Set-Cookie header of ``response``."""
    values = [v.decode("latin-1") for k, v in response.raw_headers if k == b"set-cookie"]
    assert len(values) == 1, values
    return values[0]


def attributes(value: str) -> list[str]:
    return [part.strip() for part in value.split(";")]


# Bad input first.


@pytest.mark.parametrize(
    "key", ["", "a b", "a;b", "a=b", "sess\x00", "sess\r\nX-Evil: 1", "séssion", "a,b", '"q"']
)
def test_bad_names_are_refused_naming_the_cookie(key: str) -> None:
    response = Response()
    with pytest.raises(ValueError, match="Invalid cookie name") as caught:
        set_cookie(response, key, "v")
    assert repr(key) in str(caught.value)
    with pytest.raises(ValueError, match="Invalid cookie name"):
        clear_cookie(response, key)
    assert not [k for k, _ in response.raw_headers if k == b"set-cookie"]


@pytest.mark.parametrize(
    "value",
    ["a;b", "a b", "a,b", 'a"b', "a\\b", "tab\there", "nul\x00", "crlf\r\nSet-Cookie: x=1", "é"],
)
def test_bad_values_are_refused_naming_the_cookie(value: str) -> None:
    response = Response()
    with pytest.raises(ValueError, match=r"Invalid value for cookie 'session'.*encode"):
        set_cookie(response, "session", value)
    assert not [k for k, _ in response.raw_headers if k == b"set-cookie"]


@pytest.mark.parametrize(
    ("option", "bad"), [("path", "/a;Domain=evil.com"), ("path", "/\n"), ("domain", "x.com;b")]
)
def test_bad_path_or_domain_is_refused(option: str, bad: str) -> None:
    with pytest.raises(ValueError, match=f"Invalid {option} for cookie 'session'"):
        set_cookie(Response(), "session", "v", **{option: bad})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=f"Invalid {option} for cookie 'session'"):
        clear_cookie(Response(), "session", **{option: bad})  # type: ignore[arg-type]


def test_bad_same_site_is_refused() -> None:
    with pytest.raises(ValueError, match=r"Invalid same_site for cookie 'session': 'sometimes'"):
        set_cookie(Response(), "session", "v", same_site="sometimes")


def test_oversized_cookie_is_refused() -> None:
    with pytest.raises(ValueError, match="Cookie 'session' is 4104 bytes"):
        set_cookie(Response(), "session", "x" * 4097)


# Attributes.


def test_defaults_are_http_only_secure_lax_path_root() -> None:
    response = Response()
    set_cookie(response, "session", "abc")
    assert attributes(header(response)) == [
        "session=abc",
        "HttpOnly",
        "Path=/",
        "SameSite=lax",
        "Secure",
    ]


def test_every_attribute_is_written_exactly() -> None:
    response = Response()
    set_cookie(
        response,
        key="session",
        value="tok-1.2_3~",
        max_age=3600,
        expires=datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC),
        path="/api",
        domain="example.com",
        secure=False,
        http_only=False,
        same_site=SameSite.STRICT,
    )
    assert attributes(header(response)) == [
        "session=tok-1.2_3~",
        "Domain=example.com",
        "expires=Thu, 02 Jan 2031 03:04:05 GMT",
        "Max-Age=3600",
        "Path=/api",
        "SameSite=strict",
    ]


def test_same_site_none_forces_secure() -> None:
    response = Response()
    set_cookie(response, "embed", "1", secure=False, same_site=SameSite.NONE)
    parts = attributes(header(response))
    assert "SameSite=none" in parts and "Secure" in parts
    cleared = Response()
    clear_cookie(cleared, "embed", secure=False, same_site="none")
    assert "Secure" in attributes(header(cleared))


def test_same_site_accepts_strings_any_case() -> None:
    response = Response()
    set_cookie(response, "session", "v", same_site="Strict")
    assert "SameSite=strict" in attributes(header(response))


def test_clear_cookie_expires_it_at_its_path_and_domain() -> None:
    response = Response()
    clear_cookie(response, key="session", path="/api", domain="example.com")
    parts = attributes(header(response))
    assert parts[0] == 'session=""'
    assert "Max-Age=0" in parts and "Path=/api" in parts and "Domain=example.com" in parts
    (expires,) = [part for part in parts if part.startswith("expires=")]
    assert parsedate_to_datetime(expires.removeprefix("expires=")) <= datetime.now(UTC)
    assert {"HttpOnly", "Secure", "SameSite=lax"} <= set(parts)


def test_same_site_is_a_str_enum() -> None:
    assert [member.value for member in SameSite] == ["lax", "strict", "none"]
    assert SameSite("lax") is SameSite.LAX and str(SameSite.NONE) == "none"


def test_importable_from_tempest() -> None:
    assert (TopSameSite, top_set_cookie, top_clear_cookie) == (SameSite, set_cookie, clear_cookie)


@pytest.mark.anyio
async def test_a_route_signs_in_and_out_through_an_asgi_client() -> None:
    app = FastAPI()

    @app.post("/login")
    async def login(response: Response) -> dict[str, bool]:
        set_cookie(response, key="session", value="abc123", max_age=3600, secure=False)
        return {"ok": True}

    @app.post("/logout")
    async def logout(response: Response) -> dict[str, bool]:
        clear_cookie(response, key="session", secure=False)
        return {"ok": True}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        await client.post("/login")
        assert client.cookies.get("session") == "abc123"
        await client.post("/logout")
        assert client.cookies.get("session") is None
