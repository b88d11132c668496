"""Refusals in the client's language: middleware, role grants and password rules."""

from __future__ import annotations

import asyncio
import typing
from collections.abc import AsyncIterator, Callable
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from pydantic import BaseModel

from tempest.api import register_exception_handlers
from tempest.api.dependencies import make_permission_dependency, make_role_dependency
from tempest.api.error_locale import LocalizedErrorResponse
from tempest.api.middleware.csrf import CSRFMiddleware
from tempest.api.middleware.graceful_shutdown import GracefulShutdownMiddleware
from tempest.api.middleware.hosts import AllowedHostsMiddleware
from tempest.api.middleware.idempotency import IdempotencyMiddleware
from tempest.api.middleware.rate_limit import RateLimitMiddleware
from tempest.conf import Settings, settings
from tempest.contrib.auth.password_validation import (
    PasswordValidationError,
    UserAttributeSimilarityValidator,
    validate_password,
)
from tempest.exceptions import (
    AppException,
    ValidationException,
)
from tempest.utils.jwt import JWTUtils

pytestmark = pytest.mark.anyio

BRAZIL = {"Accept-Language": "pt-BR,pt;q=0.9"}
ELSEWHERE = {"Accept-Language": "fr-FR,fr;q=0.9"}
SECRET = "a-test-secret-that-is-long-enough-for-hs256-signing"
tokens = JWTUtils(SECRET)


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


class Payment(BaseModel):
    amount: int


def build_app(*middleware: tuple[type[Any], dict[str, Any]]) -> FastAPI:
    app = FastAPI()
    register_exception_handlers(app)
    for cls, options in middleware:
        app.add_middleware(typing.cast(Any, cls), **options)
    app.state.entered = asyncio.Event()
    app.state.release = asyncio.Event()

    @app.get("/ping")
    async def ping() -> dict[str, bool]:
        return {"ok": True}

    @app.post("/payments")
    async def pay(payment: Payment) -> dict[str, int]:
        return {"amount": payment.amount}

    @app.post("/slow")
    async def slow() -> dict[str, bool]:
        app.state.entered.set()
        await app.state.release.wait()
        return {"ok": True}

    return app


def client_for(app: FastAPI, host: str = "test") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url=f"http://{host}")


# -- CSRF --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def csrf() -> AsyncIterator[httpx.AsyncClient]:
    app = build_app((CSRFMiddleware, {"secret_key": SECRET, "cookie_secure": False}))
    async with client_for(app) as http:
        yield http


async def test_the_csrf_refusal_in_portuguese(csrf: httpx.AsyncClient) -> None:
    response = await csrf.post("/payments", json={"amount": 1}, headers=BRAZIL)
    assert response.status_code == 403
    assert response.json() == {
        "detail": "Falha na verificação CSRF. O cookie CSRF está ausente: carregue uma "
        "página ou a rota do token antes.",
        "code": "CSRF_FAILED",
        "details": {"reason": "missing_cookie"},
    }
    assert response.headers["content-length"] == str(len(response.content))


async def test_the_csrf_refusal_fills_the_header_name(csrf: httpx.AsyncClient) -> None:
    page = await csrf.get("/ping")
    token = page.cookies["csrftoken"]
    csrf.cookies.set("csrftoken", token)
    try:
        response = await csrf.post(
            "/payments", json={"amount": 1}, headers={**BRAZIL, "X-CSRF-Token": "x" * 68}
        )
        assert response.json()["detail"] == (
            "Falha na verificação CSRF. O cabeçalho X-CSRF-Token não corresponde ao cookie CSRF."
        )
        missing = await csrf.post("/payments", json={"amount": 1}, headers=BRAZIL)
        assert missing.json()["detail"].endswith("no cabeçalho X-CSRF-Token.")
        english = await csrf.post("/payments", json={"amount": 1}, headers=ELSEWHERE)
        assert english.json()["detail"] == (
            "CSRF verification failed. The CSRF token is missing: send the CSRF cookie's "
            "value in the X-CSRF-Token header."
        )
    finally:
        csrf.cookies.clear()


async def test_the_csrf_refusal_in_english_otherwise(csrf: httpx.AsyncClient) -> None:
    for headers in (ELSEWHERE, {}, {"Accept-Language": "*;q=0, garbage;;"}):
        response = await csrf.post("/payments", json={"amount": 1}, headers=headers)
        assert response.json()["detail"] == (
            "CSRF verification failed. The CSRF cookie is missing: fetch a page or the "
            "token route first."
        )


# -- rate limit --------------------------------------------------------------------------


async def test_the_rate_limit_429_in_portuguese_and_english() -> None:
    app = build_app((RateLimitMiddleware, {"max_requests": 1, "window_seconds": 60}))
    async with client_for(app) as http:
        assert (await http.get("/ping")).status_code == 200
        response = await http.get("/ping", headers=BRAZIL)
        assert response.status_code == 429
        body = response.json()
        assert body["code"] == "RATE_LIMITED"
        assert body["detail"] == (
            f"Requisições demais: no máximo 1 a cada 60 s. Tente novamente em "
            f"{body['details']['retry_after']} s."
        )
        assert response.headers["content-length"] == str(len(response.content))
        assert response.headers["content-type"] == "application/json"
        english = await http.get("/ping", headers=ELSEWHERE)
        assert english.json()["detail"].startswith("Too many requests: at most 1 per 60 s.")


async def test_the_rate_limiter_outage_in_portuguese() -> None:
    class DownStore:
        retry_seconds = 2

        async def hit(self, key: str, **options: Any) -> Any:
            from tempest.api.middleware.rate_limit.stores import RateLimitUnavailableError

            raise RateLimitUnavailableError("down")

        async def aclose(self) -> None:
            return None

    app = build_app((RateLimitMiddleware, {"store": DownStore()}))
    async with client_for(app) as http:
        response = await http.get("/ping", headers=BRAZIL)
    assert response.status_code == 503
    assert response.json()["detail"].startswith(
        "O armazenamento do limitador de requisições está inacessível"
    )


# -- allowed hosts -----------------------------------------------------------------------


@pytest.mark.parametrize("debug", [False, True])
async def test_a_disallowed_host_in_portuguese_and_english(debug: bool) -> None:
    app = build_app((AllowedHostsMiddleware, {"allowed_hosts": ["example.com"], "debug": debug}))
    async with client_for(app, host="evil.test") as http:
        response = await http.get("/ping", headers=BRAZIL)
        english = await http.get("/ping", headers=ELSEWHERE)
        allowed = await http.get("/ping", headers={**BRAZIL, "Host": "example.com"})
    assert allowed.status_code == 200
    assert response.status_code == english.status_code == 400
    assert response.json()["code"] == "DISALLOWED_HOST"
    assert response.headers["content-length"] == str(len(response.content))
    if debug:
        assert response.json()["detail"] == (
            "Cabeçalho Host inválido 'evil.test': adicione-o a ALLOWED_HOSTS"
        )
        assert (
            english.json()["detail"] == "Invalid Host header 'evil.test': add it to ALLOWED_HOSTS"
        )
        assert response.json()["details"]["allowed_hosts"] == ["example.com"]
    else:
        assert response.json()["detail"] == "Cabeçalho Host inválido"
        assert english.json()["detail"] == "Invalid Host header"


# -- idempotency -------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def idempotent() -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = build_app((IdempotencyMiddleware, {}))
    async with client_for(app) as http:
        yield app, http


async def test_an_idempotency_key_in_use_in_portuguese(
    idempotent: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, http = idempotent
    app.state.entered = asyncio.Event()
    app.state.release = asyncio.Event()
    key = {"Idempotency-Key": "in-use-1"}
    first = asyncio.create_task(http.post("/slow", headers=key))
    try:
        await asyncio.wait_for(app.state.entered.wait(), 5)  # the first request holds the key
        second = await http.post("/slow", headers={**key, **BRAZIL})
        assert second.status_code == 409
        assert second.json() == {
            "detail": "Uma requisição com esta Idempotency-Key ainda está em andamento; "
            "tente novamente quando ela terminar.",
            "code": "IDEMPOTENCY_KEY_IN_USE",
            "details": {},
        }
        assert second.headers["retry-after"] == "1"
        assert second.headers["content-length"] == str(len(second.content))
        english = await http.post("/slow", headers={**key, **ELSEWHERE})
        assert english.json()["detail"] == (
            "A request with this Idempotency-Key is still running; retry after it finishes."
        )
    finally:
        app.state.release.set()
        assert (await first).status_code == 200


async def test_a_reused_and_an_invalid_idempotency_key_in_portuguese(
    idempotent: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    _, http = idempotent
    key = {"Idempotency-Key": "reused-1"}
    assert (await http.post("/payments", json={"amount": 1}, headers=key)).status_code == 200
    reused = await http.post("/payments", json={"amount": 2}, headers={**key, **BRAZIL})
    assert reused.status_code == 422
    assert reused.json()["detail"].startswith("Esta Idempotency-Key já foi usada com outra")
    english = await http.post("/payments", json={"amount": 2}, headers=key)
    assert english.json()["detail"].startswith("This Idempotency-Key was used with")
    invalid = await http.post(
        "/payments", json={"amount": 1}, headers={"Idempotency-Key": "no spaces", **BRAZIL}
    )
    assert invalid.status_code == 400
    assert invalid.json()["code"] == "INVALID_IDEMPOTENCY_KEY"
    assert invalid.json()["detail"].startswith("O cabeçalho Idempotency-Key deve ter de 1 a 255")


async def test_one_ready_made_refusal_answers_each_request_in_its_language() -> None:
    """A shared response instance is never left holding the last request's language."""
    refusal = LocalizedErrorResponse(
        {"detail": "Resource conflict", "code": "CONFLICT", "details": {}},
        message_key="CONFLICT",
        status_code=409,
    )
    app = FastAPI()
    register_exception_handlers(app)

    @app.get("/shared")
    async def shared() -> LocalizedErrorResponse:
        return refusal

    async with client_for(app) as http:
        answers = await asyncio.gather(
            *(http.get("/shared", headers=BRAZIL if n % 2 else ELSEWHERE) for n in range(20))
        )
    for n, answer in enumerate(answers):
        expected = "Conflito com o estado atual do recurso" if n % 2 else "Resource conflict"
        assert answer.json()["detail"] == expected
        assert answer.headers["content-length"] == str(len(answer.content))


# -- graceful shutdown -------------------------------------------------------------------


async def test_the_shutdown_refusal_in_portuguese() -> None:
    app = build_app((GracefulShutdownMiddleware, {"handle_signals": False, "drain_seconds": 0}))
    async with client_for(app) as http:
        assert (await http.get("/ping")).status_code == 200
        layer: Any = app.middleware_stack
        while not isinstance(layer, GracefulShutdownMiddleware):
            layer = layer.app
        layer.start_draining()
        response = await http.get("/ping", headers=BRAZIL)
        english = await http.get("/ping")
    assert response.status_code == 503
    assert response.json()["detail"] == "O servidor está sendo desligado; repita a requisição."
    assert english.json()["detail"] == "The server is shutting down; retry the request."


# -- roles and permissions ---------------------------------------------------------------


GRANTS: dict[str, tuple[Callable[..., Any], str]] = {
    "/admin": (
        make_role_dependency(tokens, "admin"),
        "Esta ação exige o papel 'admin'",
    ),
    "/staff-any": (
        make_role_dependency(tokens, ["admin", "editor"]),
        "Esta ação exige um dos papéis 'admin', 'editor'",
    ),
    "/staff-all": (
        make_role_dependency(tokens, ["admin", "editor"], require_all=True),
        "Esta ação exige todos os papéis 'admin', 'editor'",
    ),
    "/write": (
        make_permission_dependency(tokens, "users:write"),
        "Esta ação exige a permissão 'users:write'",
    ),
    "/write-all": (
        make_permission_dependency(tokens, ["users:write", "users:read"]),
        "Esta ação exige todas as permissões 'users:write', 'users:read'",
    ),
    "/write-any": (
        make_permission_dependency(tokens, ["users:write", "users:read"], require_all=False),
        "Esta ação exige uma das permissões 'users:write', 'users:read'",
    ),
}


async def test_a_role_refusal_in_portuguese_and_english() -> None:
    app = build_app()

    async def granted() -> None:
        return None

    for path, (dependency, _) in GRANTS.items():
        app.add_api_route(path, granted, methods=["GET"], dependencies=[Depends(dependency)])
    bearer = {"Authorization": f"Bearer {tokens.encode({'sub': 'u1', 'roles': ['viewer']})}"}
    async with client_for(app) as http:
        for path, (_, portuguese) in GRANTS.items():
            response = await http.get(path, headers={**bearer, **BRAZIL})
            assert response.status_code == 403
            assert response.json()["code"] == "FORBIDDEN"
            assert response.json()["detail"] == portuguese
        english = await http.get("/admin", headers={**bearer, **ELSEWHERE})
        assert english.json()["detail"] == "This action requires the role 'admin'"
        assert english.json()["details"] == {"required_roles": ["admin"], "require_all": False}


# -- password rules ----------------------------------------------------------------------


async def test_the_password_rules_in_portuguese_and_english() -> None:
    from tempest.contrib.auth.service import UserAuthService

    service = UserAuthService()
    app = build_app()

    @app.post("/password")
    async def password(body: dict[str, str]) -> None:
        service._check_new_password(body["password"], SimpleNamespace(email=body["email"]))

    settings.configure(Settings())  # type: ignore[attr-defined]  # the default rules
    try:
        async with client_for(app) as http:
            weak = {"password": "1234567", "email": "ana.silva@example.com"}
            response = await http.post("/password", json=weak, headers=BRAZIL)
            english = await http.post("/password", json=weak, headers=ELSEWHERE)
            similar = {"password": "silva.ana", "email": "ana.silva@example.com"}
            close = await http.post("/password", json=similar, headers=BRAZIL)
    finally:
        settings.reset()  # type: ignore[attr-defined]
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "PASSWORD_INVALID"
    assert body["detail"] == (
        "A senha deve ter pelo menos 8 caracteres. A senha é comum demais. "
        "A senha é formada só por dígitos."
    )
    assert body["details"]["errors"] == [
        {
            "code": "PASSWORD_TOO_SHORT",
            "message": "A senha deve ter pelo menos 8 caracteres.",
            "min_length": 8,
        },
        {"code": "PASSWORD_TOO_COMMON", "message": "A senha é comum demais."},
        {"code": "PASSWORD_ENTIRELY_NUMERIC", "message": "A senha é formada só por dígitos."},
    ]
    assert body["details"]["field"] == "password"
    assert english.json()["detail"] == (
        "The password must have at least 8 characters. The password is too common. "
        "The password is made of digits only."
    )
    assert close.json()["detail"] == "A senha é parecida demais com o e-mail."


@pytest.mark.parametrize(
    ("attribute", "portuguese"),
    [
        ("email", "A senha é parecida demais com o e-mail."),
        ("username", "A senha é parecida demais com o nome de usuário."),
        ("first_name", "A senha é parecida demais com o nome."),
        ("last_name", "A senha é parecida demais com o sobrenome."),
        ("nickname", "A senha é parecida demais com um dado da conta (nickname)."),
    ],
)
async def test_each_similarity_message_in_portuguese(attribute: str, portuguese: str) -> None:
    validator = UserAttributeSimilarityValidator(user_attributes=[attribute])
    with pytest.raises(PasswordValidationError) as raised:
        validate_password("marcelinho", SimpleNamespace(**{attribute: "marcelinho"}), [validator])
    [problem] = raised.value.problems
    error = ValidationException(
        str(raised.value), code="PASSWORD_INVALID", details={"errors": [problem.as_dict()]}
    )
    assert await _portuguese(error) == portuguese


async def test_a_custom_validator_keeps_its_own_words() -> None:
    class NoTempest:
        def validate(self, password: str, user: Any = None) -> None:
            if "tempest" in password:
                raise ValueError("Do not name the framework.")

    with pytest.raises(PasswordValidationError) as raised:
        validate_password("tempest", None, [NoTempest()])
    error = ValidationException(
        str(raised.value),
        code="PASSWORD_INVALID",
        details={"errors": [problem.as_dict() for problem in raised.value.problems]},
    )
    assert await _portuguese(error) == "Do not name the framework."


async def _portuguese(error: AppException) -> str:
    app = build_app()

    @app.get("/raise")
    async def fail() -> None:
        raise error

    async with client_for(app) as http:
        detail: str = (await http.get("/raise", headers=BRAZIL)).json()["detail"]
    return detail
