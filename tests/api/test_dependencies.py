"""The route-protecting dependencies, through a real FastAPI app and tempest's error envelope."""

import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, cast

import httpx
import pytest
from fastapi import Depends, FastAPI

import tempest
import tempest.api
import tempest.api.dependencies.auth
from tempest.api import (
    make_bearer_token_dependency,
    make_jwt_user_dependency,
    make_permission_dependency,
    make_role_dependency,
    make_token_dependency,
    register_exception_handlers,
    require_x_token,
)
from tempest.conf import Settings, override_settings, settings
from tempest.conf.lazy import LazySettings
from tempest.exceptions import NotFoundException
from tempest.utils.jwt import JWTUtils

pytestmark = pytest.mark.anyio

tokens = JWTUtils("a-test-secret-that-is-long-enough-for-hs256")
other_tokens = JWTUtils("another-secret-that-is-long-enough-for-hs256")
X_SECRET = "s3cret-shared-token"


@dataclass
class User:
    id: str
    email: str


USERS = {"u1": User("u1", "ana@shop.test"), "7": User("7", "bob@shop.test")}


async def load_user(subject: str) -> User | None:
    if subject == "deleted":
        raise NotFoundException("User not found", code="USER_NOT_FOUND")
    return USERS.get(subject)


Claims = dict[str, Any]


def build_app() -> FastAPI:
    app = FastAPI()
    register_exception_handlers(app)

    # Annotations are evaluated when each route is defined (no "from __future__ import
    # annotations" in this module), so the dependencies can be local names.
    claims_of = make_bearer_token_dependency(tokens)
    claims_or_none = make_bearer_token_dependency(tokens, soft=True)
    current_user = make_jwt_user_dependency(tokens, load_user)
    current_user_soft = make_jwt_user_dependency(tokens, load_user, soft=True)
    current_user_by_uid = make_jwt_user_dependency(tokens, load_user, subject_claim="uid")

    @app.get("/x-token", dependencies=[Depends(make_token_dependency(X_SECRET))])
    async def x_token() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/x-token-off", dependencies=[Depends(make_token_dependency(""))])
    async def x_token_off() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/x-token-settings", dependencies=[Depends(require_x_token)])
    async def x_token_settings() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/claims")
    async def claims(found: Annotated[Claims, Depends(claims_of)]) -> Claims:
        return found

    @app.get("/claims-soft")
    async def claims_soft(found: Annotated[Claims | None, Depends(claims_or_none)]) -> Any:
        return {"claims": found}

    @app.get("/me")
    async def me(user: Annotated[User, Depends(current_user)]) -> dict[str, str]:
        return {"email": user.email}

    @app.get("/me-soft")
    async def me_soft(user: Annotated[User | None, Depends(current_user_soft)]) -> Any:
        return {"email": user.email if user else None}

    @app.get("/me-by-uid")
    async def me_by_uid(user: Annotated[User, Depends(current_user_by_uid)]) -> dict[str, str]:
        return {"email": user.email}

    grants = {
        "/admin": make_role_dependency(tokens, ["admin"]),
        "/admin-str": make_role_dependency(tokens, "admin"),
        "/staff-any": make_role_dependency(tokens, ["admin", "editor"]),
        "/staff-all": make_role_dependency(tokens, ["admin", "editor"], require_all=True),
        "/by-group": make_role_dependency(tokens, ["ops"], roles_claim="groups"),
        "/users-write": make_permission_dependency(tokens, ["users:write", "users:read"]),
        "/users-any": make_permission_dependency(
            tokens, ["users:write", "users:read"], require_all=False
        ),
    }
    for path, dependency in grants.items():

        async def granted(found: Annotated[Claims, Depends(dependency)]) -> dict[str, str]:
            return {"sub": found["sub"]}

        app.add_api_route(path, granted, methods=["GET"])
    return app


@pytest.fixture(scope="module")
def app() -> FastAPI:
    return build_app()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


@pytest.fixture(scope="module")
def expired_token() -> str:
    token = tokens.encode({"sub": "u1", "roles": ["admin"]}, ttl=timedelta(seconds=1))
    time.sleep(2.1)  # exp is whole seconds: this is past it whatever the start time
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def access(claims: Claims) -> dict[str, str]:
    return bearer(tokens.encode(claims))


MISSING_BEARER = {
    "detail": "Missing bearer token: send the header 'Authorization: Bearer <token>'",
    "code": "UNAUTHORIZED",
    "details": {},
}
INVALID_TOKEN = {"detail": "Invalid token", "code": "INVALID_TOKEN", "details": {}}
EXPIRED_TOKEN = {"detail": "Token expired", "code": "TOKEN_EXPIRED", "details": {}}


def assert_401(response: httpx.Response, body: dict[str, Any], challenge: str) -> None:
    assert response.status_code == 401, response.text
    assert response.json() == body
    assert response.headers["WWW-Authenticate"] == challenge


# -- bad input: mistakes in the factories' arguments fail when the app is built --------


def test_token_dependency_needs_a_string_secret() -> None:
    with pytest.raises(TypeError, match=r"secret must be a string .* not NoneType"):
        make_token_dependency(None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "factory",
    [
        lambda bad: make_bearer_token_dependency(bad),
        lambda bad: make_jwt_user_dependency(bad, load_user),
        lambda bad: make_role_dependency(bad, ["admin"]),
        lambda bad: make_permission_dependency(bad, ["users:write"]),
    ],
)
def test_bearer_factories_need_something_that_decodes_tokens(factory: Any) -> None:
    with pytest.raises(TypeError, match=r"tokens must be a JWTUtils .* not str"):
        factory("a-secret-string")


def test_jwt_user_dependency_refuses_bad_arguments() -> None:
    with pytest.raises(TypeError, match="user_loader must be an async function"):
        make_jwt_user_dependency(tokens, "load_user")  # type: ignore[call-overload]
    with pytest.raises(ValueError, match="subject_claim must name a claim"):
        make_jwt_user_dependency(tokens, load_user, subject_claim="")


@pytest.mark.parametrize(
    ("roles", "error", "match"),
    [
        ([], ValueError, "roles must name at least one role"),
        ([""], ValueError, "every role must be a non-empty string, got ''"),
        (["admin", None], ValueError, "every role must be a non-empty string, got None"),
        (42, TypeError, "roles must be a string or a list of strings, not int"),
    ],
)
def test_role_dependency_refuses_bad_roles(roles: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        make_role_dependency(tokens, roles)


def test_grant_dependencies_refuse_an_empty_claim_name() -> None:
    with pytest.raises(ValueError, match="roles_claim must name a claim"):
        make_role_dependency(tokens, ["admin"], roles_claim="")
    with pytest.raises(ValueError, match="permissions must name at least one permission"):
        make_permission_dependency(tokens, [])
    with pytest.raises(ValueError, match="permissions_claim must name a claim"):
        make_permission_dependency(tokens, ["users:write"], permissions_claim="")


# -- X-Token ---------------------------------------------------------------------------


async def test_x_token_right(client: httpx.AsyncClient) -> None:
    response = await client.get("/x-token", headers={"X-Token": X_SECRET})
    assert response.status_code == 200
    assert response.json() == {"ok": True}


@pytest.mark.parametrize("sent", ["wrong", X_SECRET[:-1], X_SECRET + "x", X_SECRET.upper()])
async def test_x_token_wrong(client: httpx.AsyncClient, sent: str) -> None:
    response = await client.get("/x-token", headers={"X-Token": sent})
    assert response.status_code == 401
    assert response.json() == {
        "detail": "Invalid X-Token header",
        "code": "INVALID_TOKEN",
        "details": {},
    }


async def test_x_token_missing(client: httpx.AsyncClient) -> None:
    response = await client.get("/x-token")
    assert response.status_code == 401
    assert response.json() == {
        "detail": "Missing X-Token header",
        "code": "UNAUTHORIZED",
        "details": {},
    }


async def test_x_token_with_non_ascii_bytes_is_a_401_not_a_500(client: httpx.AsyncClient) -> None:
    response = await client.get("/x-token", headers={b"X-Token": "s3crét".encode("latin-1")})
    assert response.status_code == 401
    assert response.json()["code"] == "INVALID_TOKEN"


async def test_an_empty_secret_turns_the_check_off(client: httpx.AsyncClient) -> None:
    assert (await client.get("/x-token-off")).status_code == 200
    assert (await client.get("/x-token-off", headers={"X-Token": "any"})).status_code == 200


@pytest.fixture
def project_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Project settings with a TOKEN_SECRET; the global proxy is restored afterwards."""
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.delenv("TOKEN_SECRET", raising=False)
    lazy = cast(LazySettings, settings)
    saved = lazy._wrapped
    lazy.configure(Settings(TOKEN_SECRET="from-the-settings"))
    yield
    if saved is None:
        lazy.reset()
    else:
        lazy.configure(saved)


@pytest.mark.usefixtures("project_settings")
async def test_require_x_token_reads_the_project_settings(client: httpx.AsyncClient) -> None:
    path = "/x-token-settings"
    ok = await client.get(path, headers={"X-Token": "from-the-settings"})
    wrong = await client.get(path, headers={"X-Token": X_SECRET})
    missing = await client.get(path)
    assert ok.status_code == 200
    assert (wrong.status_code, wrong.json()["code"]) == (401, "INVALID_TOKEN")
    assert (missing.status_code, missing.json()["code"]) == (401, "UNAUTHORIZED")

    with override_settings(TOKEN_SECRET="rotated"):
        assert (await client.get(path, headers={"X-Token": "rotated"})).status_code == 200
        stale = await client.get(path, headers={"X-Token": "from-the-settings"})
        assert stale.status_code == 401
    with override_settings(TOKEN_SECRET=""):
        assert (await client.get(path)).status_code == 200


# -- bearer claims ---------------------------------------------------------------------


async def test_bearer_returns_the_claims(client: httpx.AsyncClient) -> None:
    response = await client.get("/claims", headers=access({"sub": "u1", "tenant": "acme"}))
    assert response.status_code == 200
    claims = response.json()
    assert (claims["sub"], claims["tenant"], claims["type"]) == ("u1", "acme", "access")


async def test_the_bearer_scheme_is_case_insensitive(client: httpx.AsyncClient) -> None:
    token = tokens.encode({"sub": "u1"})
    response = await client.get("/claims", headers={"Authorization": f"bearer {token}"})
    assert response.status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Basic YW5hOnNlY3JldA=="},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer "},
        {"Authorization": "Token abc"},
    ],
)
async def test_bearer_missing_or_malformed_header(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    assert_401(await client.get("/claims", headers=headers), MISSING_BEARER, "Bearer")


async def test_bearer_garbage_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/claims", headers=bearer("not.a.jwt"))
    assert_401(response, INVALID_TOKEN, 'Bearer error="invalid_token"')


async def test_bearer_token_of_another_secret(client: httpx.AsyncClient) -> None:
    response = await client.get("/claims", headers=bearer(other_tokens.encode({"sub": "u1"})))
    assert_401(response, INVALID_TOKEN, 'Bearer error="invalid_token"')


async def test_bearer_refresh_token_where_access_is_expected(client: httpx.AsyncClient) -> None:
    refresh = tokens.encode({"sub": "u1"}, token_type="refresh")
    response = await client.get("/claims", headers=bearer(refresh))
    assert_401(response, INVALID_TOKEN, 'Bearer error="invalid_token"')


async def test_bearer_expired_token(client: httpx.AsyncClient, expired_token: str) -> None:
    response = await client.get("/claims", headers=bearer(expired_token))
    assert_401(response, EXPIRED_TOKEN, 'Bearer error="invalid_token"')


async def test_soft_bearer(client: httpx.AsyncClient, expired_token: str) -> None:
    valid = await client.get("/claims-soft", headers=access({"sub": "u1"}))
    assert valid.json()["claims"]["sub"] == "u1"
    for headers in (
        {},
        {"Authorization": "Basic abc"},
        bearer("not.a.jwt"),
        bearer(other_tokens.encode({"sub": "u1"})),
        bearer(tokens.encode({"sub": "u1"}, token_type="refresh")),
        bearer(expired_token),
    ):
        response = await client.get("/claims-soft", headers=headers)
        assert response.status_code == 200, headers
        assert response.json() == {"claims": None}, headers


# -- current user ----------------------------------------------------------------------


async def test_current_user(client: httpx.AsyncClient) -> None:
    response = await client.get("/me", headers=access({"sub": "u1"}))
    assert response.status_code == 200
    assert response.json() == {"email": "ana@shop.test"}


async def test_current_user_strict_failures(client: httpx.AsyncClient, expired_token: str) -> None:
    challenge = 'Bearer error="invalid_token"'
    assert_401(await client.get("/me"), MISSING_BEARER, "Bearer")
    assert_401(await client.get("/me", headers=bearer("x.y.z")), INVALID_TOKEN, challenge)
    assert_401(await client.get("/me", headers=bearer(expired_token)), EXPIRED_TOKEN, challenge)
    refresh = tokens.encode({"sub": "u1"}, token_type="refresh")
    assert_401(await client.get("/me", headers=bearer(refresh)), INVALID_TOKEN, challenge)


async def test_current_user_token_without_subject(client: httpx.AsyncClient) -> None:
    response = await client.get("/me", headers=access({"email": "ana@shop.test"}))
    body = {"detail": "The token has no 'sub' claim", "code": "INVALID_TOKEN", "details": {}}
    assert_401(response, body, 'Bearer error="invalid_token"')


async def test_current_user_loader_returning_none(client: httpx.AsyncClient) -> None:
    response = await client.get("/me", headers=access({"sub": "nobody"}))
    body = {"detail": "The token's user does not exist", "code": "UNAUTHORIZED", "details": {}}
    assert_401(response, body, 'Bearer error="invalid_token"')


@pytest.mark.parametrize("path", ["/me", "/me-soft"])
async def test_loader_exceptions_keep_their_envelope(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path, headers=access({"sub": "deleted"}))
    assert response.status_code == 404
    assert response.json() == {"detail": "User not found", "code": "USER_NOT_FOUND", "details": {}}


async def test_current_user_soft(client: httpx.AsyncClient, expired_token: str) -> None:
    valid = await client.get("/me-soft", headers=access({"sub": "u1"}))
    assert valid.json() == {"email": "ana@shop.test"}
    for headers in (
        {},
        bearer("not.a.jwt"),
        bearer(expired_token),
        bearer(other_tokens.encode({"sub": "u1"})),
        access({"email": "no-subject@shop.test"}),
        access({"sub": "nobody"}),
    ):
        response = await client.get("/me-soft", headers=headers)
        assert response.status_code == 200, headers
        assert response.json() == {"email": None}, headers


async def test_custom_subject_claim(client: httpx.AsyncClient) -> None:
    response = await client.get("/me-by-uid", headers=access({"sub": "u1", "uid": 7}))
    assert response.json() == {"email": "bob@shop.test"}  # the number reached the loader as "7"
    missing = await client.get("/me-by-uid", headers=access({"sub": "u1"}))
    assert missing.status_code == 401
    assert missing.json()["detail"] == "The token has no 'uid' claim"


# -- roles and permissions -------------------------------------------------------------


async def test_role_granted(client: httpx.AsyncClient) -> None:
    for roles in (["admin"], ["viewer", "admin"], "admin"):
        response = await client.get("/admin", headers=access({"sub": "u1", "roles": roles}))
        assert response.status_code == 200, roles
        assert response.json() == {"sub": "u1"}
    string_route = await client.get("/admin-str", headers=access({"sub": "u1", "roles": "admin"}))
    assert string_route.status_code == 200


@pytest.mark.parametrize("roles", [None, [], ["viewer"], "administrator", {"admin": True}, 1])
async def test_role_missing_is_a_403(client: httpx.AsyncClient, roles: Any) -> None:
    claims: Claims = {"sub": "u1"} if roles is None else {"sub": "u1", "roles": roles}
    response = await client.get("/admin", headers=access(claims))
    assert response.status_code == 403
    assert response.json() == {
        "detail": "This action requires the role 'admin'",
        "code": "FORBIDDEN",
        "details": {"required_roles": ["admin"], "require_all": False},
    }


async def test_roles_any_versus_all(client: httpx.AsyncClient) -> None:
    editor = access({"sub": "u1", "roles": ["editor"]})
    both = access({"sub": "u1", "roles": ["editor", "admin"]})
    assert (await client.get("/staff-any", headers=editor)).status_code == 200
    assert (await client.get("/staff-all", headers=both)).status_code == 200
    refused = await client.get("/staff-all", headers=editor)
    assert refused.status_code == 403
    assert refused.json() == {
        "detail": "This action requires all of the roles 'admin', 'editor'",
        "code": "FORBIDDEN",
        "details": {"required_roles": ["admin", "editor"], "require_all": True},
    }
    nobody = await client.get("/staff-any", headers=access({"sub": "u1", "roles": ["viewer"]}))
    assert nobody.json()["detail"] == "This action requires one of the roles 'admin', 'editor'"


async def test_custom_roles_claim(client: httpx.AsyncClient) -> None:
    in_group = access({"sub": "u1", "groups": ["ops"]})
    only_roles = access({"sub": "u1", "roles": ["ops"]})
    assert (await client.get("/by-group", headers=in_group)).status_code == 200
    assert (await client.get("/by-group", headers=only_roles)).status_code == 403


async def test_role_route_without_a_valid_token_is_a_401(
    client: httpx.AsyncClient, expired_token: str
) -> None:
    assert_401(await client.get("/admin"), MISSING_BEARER, "Bearer")
    challenge = 'Bearer error="invalid_token"'
    assert_401(await client.get("/admin", headers=bearer(expired_token)), EXPIRED_TOKEN, challenge)
    forged = bearer(other_tokens.encode({"sub": "u1", "roles": ["admin"]}))
    assert_401(await client.get("/admin", headers=forged), INVALID_TOKEN, challenge)
    refresh = bearer(tokens.encode({"sub": "u1", "roles": ["admin"]}, token_type="refresh"))
    assert_401(await client.get("/admin", headers=refresh), INVALID_TOKEN, challenge)


async def test_permissions_require_all_by_default(client: httpx.AsyncClient) -> None:
    both = access({"sub": "u1", "permissions": ["users:read", "users:write", "x"]})
    assert (await client.get("/users-write", headers=both)).status_code == 200
    one = access({"sub": "u1", "permissions": ["users:write"]})
    response = await client.get("/users-write", headers=one)
    assert response.status_code == 403
    assert response.json() == {
        "detail": "This action requires all of the permissions 'users:write', 'users:read'",
        "code": "FORBIDDEN",
        "details": {"required_permissions": ["users:write", "users:read"], "require_all": True},
    }


async def test_permissions_any(client: httpx.AsyncClient) -> None:
    one = access({"sub": "u1", "permissions": "users:read"})
    none = access({"sub": "u1", "permissions": ["orders:read"]})
    assert (await client.get("/users-any", headers=one)).status_code == 200
    refused = await client.get("/users-any", headers=none)
    assert refused.status_code == 403
    assert refused.json()["code"] == "FORBIDDEN"
    assert_401(await client.get("/users-any"), MISSING_BEARER, "Bearer")


# -- OpenAPI and exports ---------------------------------------------------------------


def test_openapi_shows_the_security_schemes(app: FastAPI) -> None:
    schema = app.openapi()
    schemes = schema["components"]["securitySchemes"]
    assert schemes["HTTPBearer"]["type"] == "http"
    assert schemes["HTTPBearer"]["scheme"] == "bearer"
    assert schemes["HTTPBearer"]["bearerFormat"] == "JWT"
    assert schemes["XToken"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-Token",
        "description": "The project's shared secret (settings.TOKEN_SECRET).",
    }
    paths = schema["paths"]
    for path in ("/claims", "/me", "/me-soft", "/admin", "/users-write"):
        assert paths[path]["get"]["security"] == [{"HTTPBearer": []}], path
    assert paths["/x-token"]["get"]["security"] == [{"XToken": []}]
    assert "security" not in paths["/x-token-off"]["get"]


def test_the_factories_are_exported_where_the_spec_puts_them() -> None:
    names = tempest.api.dependencies.auth.__all__
    assert sorted(names) == [
        "make_bearer_token_dependency",
        "make_jwt_user_dependency",
        "make_permission_dependency",
        "make_role_dependency",
        "make_token_dependency",
        "require_x_token",
    ]
    for name in names:
        exported = getattr(tempest.api.dependencies.auth, name)
        assert getattr(tempest, name) is exported
        assert getattr(tempest.api, name) is exported
