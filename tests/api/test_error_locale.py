"""Error envelopes in the client's language: routing, validation, body limit, app catalogs."""

from __future__ import annotations

import importlib
import json
import re
import typing
import uuid
from collections.abc import AsyncIterator, Iterator
from http import HTTPStatus
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel, Field

from tempest.api import register_exception_handlers
from tempest.api.middleware.body_limit import BodySizeLimitMiddleware
from tempest.apps import Apps
from tempest.exceptions import (
    AppException,
    ConflictException,
    ImproperlyConfigured,
    MessageCatalog,
    NotFoundException,
    default_message_catalog,
)
from tests.helpers import REPO

pytestmark = pytest.mark.anyio

BRAZIL = {"Accept-Language": "pt-BR,pt;q=0.9"}


class Item(BaseModel):
    name: str = Field(min_length=2)
    quantity: int = Field(gt=0)


def build_app(**options: typing.Any) -> FastAPI:
    app = FastAPI()
    register_exception_handlers(app, **options)
    app.add_middleware(BodySizeLimitMiddleware, max_body_size=64)

    @app.post("/items")
    async def create_item(item: Item) -> Item:
        return item

    @app.get("/missing")
    async def missing() -> None:
        raise NotFoundException()

    @app.get("/own-words")
    async def own_words() -> None:
        raise NotFoundException("User 5 not found")

    @app.get("/orders/{order_id}")
    async def order(order_id: int) -> None:
        raise NotFoundException(
            f"Order {order_id} not found",
            message_key="ORDER_NOT_FOUND",
            message_params={"id": order_id},
        )

    @app.get("/taken")
    async def taken() -> None:
        raise ConflictException("An account with this email already exists", code="EMAIL_TAKEN")

    @app.get("/boom")
    async def boom() -> float:
        return 1 / 0

    return app


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=build_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


# -- the acceptance: a 404 and a 422 in pt-BR, en-US for anything unknown ------------------


async def test_a_routing_404_in_portuguese(client: httpx.AsyncClient) -> None:
    response = await client.get("/nowhere", headers=BRAZIL)
    assert response.status_code == 404
    assert response.json() == {"detail": "Não encontrado", "code": "NOT_FOUND", "details": {}}


async def test_a_422_in_portuguese(client: httpx.AsyncClient) -> None:
    response = await client.post("/items", json={"name": "x", "quantity": 0}, headers=BRAZIL)
    assert response.status_code == 422
    body = response.json()
    assert body["detail"] == "Erro de validação"
    assert body["code"] == "VALIDATION_ERROR"
    assert [error["msg"] for error in body["details"]["errors"]] == [
        "O texto deve ter pelo menos 2 caracteres",
        "A entrada deve ser maior que 0",
    ]
    assert [error["type"] for error in body["details"]["errors"]] == [
        "string_too_short",
        "greater_than",
    ]


async def test_a_missing_field_in_portuguese(client: httpx.AsyncClient) -> None:
    response = await client.post("/items", json={}, headers=BRAZIL)
    assert {error["msg"] for error in response.json()["details"]["errors"]} == {"Campo obrigatório"}


@pytest.mark.parametrize(
    "header",
    [
        "fr-FR,fr;q=0.9",
        "*",
        "garbage!!;;q=x",
        ",".join(["zz"] * 50),
        "pt;q=0",
        "x" * 5000,
    ],
)
async def test_an_unknown_language_is_answered_in_english(
    client: httpx.AsyncClient, header: str
) -> None:
    response = await client.get("/nowhere", headers={"Accept-Language": header})
    assert response.json()["detail"] == "Not Found"
    response = await client.post(
        "/items", json={"name": "x", "quantity": 0}, headers={"Accept-Language": header}
    )
    assert response.json()["detail"] == "Validation error"
    assert response.json()["details"]["errors"][1]["msg"] == "Input should be greater than 0"


async def test_without_accept_language_the_english_is_unchanged(
    client: httpx.AsyncClient,
) -> None:
    assert (await client.get("/missing")).json()["detail"] == "Resource not found"
    response = await client.post("/items", json={"name": "x", "quantity": 0})
    assert response.json()["details"]["errors"][0]["msg"] == (
        "String should have at least 2 characters"
    )


async def test_a_50_entry_header_ending_in_portuguese(client: httpx.AsyncClient) -> None:
    header = ",".join(["zz"] * 49 + ["pt-BR"])
    response = await client.get("/nowhere", headers={"Accept-Language": header})
    assert response.json()["detail"] == "Não encontrado"


# -- every kind of error ---------------------------------------------------------------


async def test_a_405_in_portuguese(client: httpx.AsyncClient) -> None:
    response = await client.delete("/items", headers=BRAZIL)
    assert response.status_code == 405
    assert response.json()["detail"] == "Método não permitido"
    assert response.headers["allow"] == "POST"


async def test_a_413_of_the_body_limit_in_portuguese(client: httpx.AsyncClient) -> None:
    response = await client.post("/items", content=b"x" * 100, headers=BRAZIL)
    assert response.status_code == 413
    assert response.json()["detail"] == (
        "O corpo da requisição tem mais de 64 bytes, o limite deste endpoint "
        "(MAX_REQUEST_BODY_SIZE)."
    )
    assert response.headers["content-length"] == str(len(response.content))
    english = await client.post("/items", content=b"x" * 100)
    assert english.json()["detail"].startswith("The request body is larger than 64 bytes")


async def test_a_nul_in_the_body_in_portuguese(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/items",
        content=b'{"name": "a\\u0000b", "quantity": 1}',
        headers={**BRAZIL, "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["detail"] == "Erro de validação"
    assert response.json()["details"]["errors"][0]["msg"].startswith("O texto não pode conter")


async def test_an_app_exception_in_portuguese(client: httpx.AsyncClient) -> None:
    assert (await client.get("/missing", headers=BRAZIL)).json()["detail"] == (
        "Recurso não encontrado"
    )
    taken = await client.get("/taken", headers=BRAZIL)
    assert taken.json() == {
        "detail": "Já existe uma conta com este e-mail",
        "code": "EMAIL_TAKEN",
        "details": {},
    }


async def test_an_exception_with_its_own_words_keeps_them(client: httpx.AsyncClient) -> None:
    assert (await client.get("/own-words", headers=BRAZIL)).json()["detail"] == ("User 5 not found")


async def test_a_key_no_catalog_has_falls_back_to_the_message(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/orders/7", headers=BRAZIL)
    assert response.json()["detail"] == "Order 7 not found"


async def test_a_500_in_portuguese(client: httpx.AsyncClient) -> None:
    response = await client.get("/boom", headers=BRAZIL)
    assert response.status_code == 500
    assert response.json()["detail"] == "Erro interno do servidor"


async def test_an_application_catalog_and_default_locale() -> None:
    catalog = MessageCatalog(
        {
            "pt-BR": {"ORDER_NOT_FOUND": "Pedido {id} não encontrado"},
            "es": {"ORDER_NOT_FOUND": "Pedido {id} no encontrado", "http.404": "No encontrado"},
        },
        default_locale="pt-BR",
    )
    app = build_app(catalog=catalog, default_locale="pt-BR")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        unknown = await http.get("/orders/3", headers={"Accept-Language": "de"})
        assert unknown.json()["detail"] == "Pedido 3 não encontrado"
        spanish = await http.get("/orders/3", headers={"Accept-Language": "es-AR"})
        assert spanish.json()["detail"] == "Pedido 3 no encontrado"
        assert (await http.get("/nope", headers={"Accept-Language": "es"})).json()[
            "detail"
        ] == "No encontrado"
        # English, the language of the exception's own message, keeps it.
        english = await http.get("/orders/3", headers={"Accept-Language": "en"})
        assert english.json()["detail"] == "Order 3 not found"


def test_a_default_locale_that_is_not_a_tag_is_refused() -> None:
    with pytest.raises(ValueError, match="is not a locale tag"):
        register_exception_handlers(FastAPI(), default_locale="not a locale!")


async def test_without_register_exception_handlers_the_413_stays_english() -> None:
    app = FastAPI()
    app.add_middleware(BodySizeLimitMiddleware, max_body_size=4)

    @app.post("/echo")
    async def echo() -> None:
        return None

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        response = await http.post("/echo", content=b"x" * 10, headers=BRAZIL)
    assert response.status_code == 413
    assert response.json()["detail"].startswith("The request body is larger")


# -- apps' catalogs ----------------------------------------------------------------------


@pytest.fixture
def app_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Path]]:
    monkeypatch.syspath_prepend(str(tmp_path))
    name = f"shop_{uuid.uuid4().hex[:8]}"
    package = tmp_path / name
    (package / "locale").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    yield name, package


async def test_an_app_locale_folder_is_read_when_the_registry_is_ready(
    app_package: tuple[str, Path],
) -> None:
    name, package = app_package
    key = f"{name.upper()}_OUT_OF_STOCK"
    (package / "locale" / "pt-BR.json").write_text(
        json.dumps({key: "{product} esgotado", "http.404": "Nada aqui"}), encoding="utf-8"
    )
    (package / "locale" / "en-US.json").write_text(
        json.dumps({key: "{product} is out of stock"}), encoding="utf-8"
    )
    before = default_message_catalog.get("http.404", "pt-BR")
    try:
        Apps().populate([name])
        app = build_app()

        @app.get("/stock")
        async def stock() -> None:
            raise ConflictException(message_key=key, message_params={"product": "Café"})

        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            response = await http.get("/stock", headers=BRAZIL)
            assert response.json()["detail"] == "Café esgotado"
            response = await http.get("/stock")
            assert response.json()["detail"] == "Café is out of stock"
            # An app may reword tempest's own messages too.
            assert (await http.get("/nope", headers=BRAZIL)).json()["detail"] == "Nada aqui"
    finally:
        default_message_catalog.add("pt-BR", {"http.404": before or "Não encontrado"})


def test_a_broken_app_catalog_stops_the_registry(app_package: tuple[str, Path]) -> None:
    name, package = app_package
    (package / "locale" / "pt-BR.json").write_text('{"A": "{oops"}', encoding="utf-8")
    with pytest.raises(ImproperlyConfigured, match=r"Cannot load the message catalog .*pt-BR"):
        Apps().populate([name])


async def test_a_catalog_registered_in_ready(app_package: tuple[str, Path]) -> None:
    name, package = app_package
    key = f"{name.upper()}_CLOSED"
    (package / "apps.py").write_text(
        "from tempest.apps import AppConfig\n"
        "from tempest.exceptions import default_message_catalog\n\n\n"
        "class ShopConfig(AppConfig):\n"
        f"    name = {name!r}\n\n"
        "    def ready(self) -> None:\n"
        f"        default_message_catalog.add('pt-BR', {{{key!r}: 'A loja está fechada'}})\n",
        encoding="utf-8",
    )
    Apps().populate([name])
    exc = AppException("The shop is closed", message_key=key)
    assert default_message_catalog.translate_exception(exc, "pt-BR") == "A loja está fechada"


# -- what tempest ships ------------------------------------------------------------------


def _import_exception_modules() -> None:
    """Import every tempest module that declares an exception class."""
    declares = re.compile(r"^class \w+\([^)]*(Exception|Error)\b", re.MULTILINE)
    for path in sorted((REPO / "tempest").rglob("*.py")):
        if "static" in path.parts or not declares.search(path.read_text(encoding="utf-8")):
            continue
        module = ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
        try:
            importlib.import_module(module)
        except ImportError:  # an optional dependency that is not installed
            continue


def _subclasses(cls: type[AppException]) -> list[type[AppException]]:
    found = [cls]
    for sub in cls.__subclasses__():
        found.extend(_subclasses(sub))
    return found


# Constructor arguments of the exceptions that cannot be built without any.
SAMPLES: dict[str, tuple[typing.Any, ...]] = {
    "CircuitOpenError": ("api.example.com", 2.5),
    "WebhookSignatureError": ("mismatch", "The webhook signature could not be verified."),
}


def test_every_app_exception_of_tempest_speaks_english_and_portuguese() -> None:
    _import_exception_modules()
    shipped = [cls for cls in _subclasses(AppException) if cls.__module__.startswith("tempest.")]
    assert len(shipped) >= 15
    for cls in shipped:
        name = cls.__qualname__
        try:
            exc = cls(*SAMPLES.get(name, ()))
        except TypeError as error:
            pytest.fail(f"{name} needs constructor arguments: add them to SAMPLES ({error})")
        key = default_message_catalog.exception_key(exc)
        assert key is not None, f"{name}: no catalog key for {exc.message!r}"
        assert default_message_catalog.get(key, "en-US"), f"{name}: en-US has no {key}"
        assert default_message_catalog.get(key, "pt-BR"), f"{name}: pt-BR has no {key}"
        english = default_message_catalog.translate_exception(exc, "en-US")
        portuguese = default_message_catalog.translate_exception(exc, "pt-BR")
        assert english == exc.message, f"{name}: en-US {key} reads {english!r}"
        assert portuguese != english, f"{name}: pt-BR {key} is not translated"
        assert "{" not in portuguese, f"{name}: {portuguese!r} has an unfilled placeholder"


def test_every_http_error_status_has_a_portuguese_message() -> None:
    statuses = [status.value for status in HTTPStatus if status.value >= 400]
    assert default_message_catalog.missing([f"http.{code}" for code in statuses], "pt-BR") == []


def test_every_pydantic_error_type_has_a_portuguese_message() -> None:
    from pydantic_core import core_schema

    kinds = typing.get_args(core_schema.ErrorType)
    assert len(kinds) > 100
    keys = [f"validation.{kind}" for kind in kinds]
    assert default_message_catalog.missing(keys, "pt-BR") == []


def test_the_shipped_files_are_catalogs() -> None:
    folder = REPO / "tempest" / "exceptions" / "locale"
    assert sorted(path.name for path in folder.iterdir()) == ["en-US.json", "pt-BR.json"]
    fresh = MessageCatalog()
    fresh.load_directory(folder)
    english, portuguese = fresh.messages("en-US"), fresh.messages("pt-BR")
    assert set(english) <= set(portuguese)
    for key, text in english.items():
        placeholders = set(re.findall(r"{(\w+)}", text))
        assert placeholders == set(re.findall(r"{(\w+)}", portuguese[key])), key
