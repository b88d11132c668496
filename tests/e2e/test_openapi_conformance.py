"""The OpenAPI document tells the truth: schemathesis against a generated project.

A project made by ``startproject`` with the example resource of ``startapp`` (auth and
admin as shipped) is fuzzed in-process through its ASGI app: every operation, with data
that fits its schema and data that does not, plus a stateful run that follows the
document's links (login -> refresh -> logout). Every answer must be declared by the
operation, fit the declared schema and never be a server error.
"""

from __future__ import annotations

import copy
import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tempest.apps import apps
from tempest.conf import settings
from tempest.db import reset_database
from tests.helpers import manage, tempest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import (  # noqa: E402
    HealthCheck,
    Phase,
    settings as hypothesis_settings,
)
from hypothesis.stateful import run_state_machine_as_test  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PROJECT = "conformshop"
APP = "gadgets"
EMAIL = "fuzz-admin@example.com"
FLOW_EMAIL = "fuzz-flow@example.com"
PASSWORD = "a long and proper passphrase"
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]
# Per operation and generation mode: small enough for the whole module to take well
# under a minute per database on two cores, large enough to reach every declared answer.
MAX_EXAMPLES = 12
FUZZ_SETTINGS = hypothesis_settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


def _project_root(root: Path) -> Path:
    created = tempest(root, "startproject", PROJECT)
    assert created.returncode == 0, created.stderr
    project = root / PROJECT
    app = manage(project, "startapp", APP)
    assert app.returncode == 0, app.stderr
    return project


def _database_url(backend: str, root: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{root / 'fuzz.sqlite3'}"
        return
    from tests.conftest import service_url
    from tests.services import scratch_database

    server = service_url("TEMPEST_TEST_DATABASE_URL")
    with scratch_database(server, f"tempest_openapi_{uuid.uuid4().hex[:8]}") as url:
        yield url


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def project_app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    """The generated project's ASGI app, migrated, with two active administrators."""
    root = tmp_path_factory.mktemp("openapi")
    project = _project_root(root)
    for url in _database_url(str(request.param), root):
        values: dict[str, Any] = {
            "DATABASE_URL": url,
            "AUTH_PASSWORD_HASH_ROUNDS": "4",
            "JWT_SECRET": secrets.token_urlsafe(48),
            "SECRET_KEY": secrets.token_urlsafe(48),
            "DEBUG": "false",
            # Links in emails are built from SITE_URL; the mail server is absent (503s).
            "SITE_URL": "http://testserver",
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": "9",
            "ALLOWED_HOSTS": '["testserver"]',  # the host of schemathesis's ASGI client
        }
        for step in ("makemigrations", "migrate"):
            result = manage(project, step, **values)
            assert result.returncode == 0, result.stderr
        superuser = manage(
            project,
            "createsuperuser",
            "--noinput",
            TEMPEST_SUPERUSER_EMAIL=EMAIL,
            TEMPEST_SUPERUSER_PASSWORD=PASSWORD,
            **values,
        )
        assert superuser.returncode == 0, superuser.stderr
        flow_user = manage(
            project,
            "createsuperuser",
            "--noinput",
            TEMPEST_SUPERUSER_EMAIL=FLOW_EMAIL,
            TEMPEST_SUPERUSER_PASSWORD=PASSWORD,
            **values,
        )
        assert flow_user.returncode == 0, flow_user.stderr
        with pytest.MonkeyPatch.context() as patch:
            patch.syspath_prepend(str(project))
            patch.chdir(project)
            for name, value in values.items():
                patch.setenv(name, value)
            import importlib

            module = importlib.import_module(f"{PROJECT}.settings")
            # A fresh instance: the module's own was read before the values above were set.
            settings.configure(type(module.settings)())  # type: ignore[attr-defined]
            from tempest.core.asgi import get_asgi_application

            try:
                yield get_asgi_application()
            finally:
                from schemathesis.python.asgi import shutdown_lifespans

                shutdown_lifespans()
                apps.reset()
                settings.reset()  # type: ignore[attr-defined]
                reset_database()


@pytest.fixture(scope="module")
def document(project_app: Any) -> tuple[dict[str, Any], str]:
    """The served OpenAPI document, and an access token of the administrator.

    One sign-in, before any fuzzing: wrong passwords sent to the password-checking
    endpoints lock the account out of later sign-ins (a declared 429), and a signed-out
    token only turns later answers into declared 401s.
    """
    with schemathesis.python.asgi.get_client(project_app) as client:
        served = client.get("/openapi.json")
        response = client.post("/api/auth/login", json={"email": EMAIL, "password": PASSWORD})
    assert served.status_code == 200, served.text
    assert response.status_code == 200, response.text
    return served.json(), str(response.json()["access_token"])


def _schema(app: Any, raw: dict[str, Any], token: str) -> Any:
    """``raw`` loaded by schemathesis, calling ``app`` in-process as the administrator."""
    schema = schemathesis.openapi.from_dict(raw)
    schema.app = app  # what from_asgi() does: requests go to the app, not over a network

    @schema.auth()
    class AdminToken:
        """The administrator's bearer access token on every request."""

        def get(self, case: Any, ctx: Any) -> str:
            return token

        def set(self, case: Any, data: str, ctx: Any) -> None:
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}

    return schema


@pytest.fixture(scope="module")
def api_schema(project_app: Any, document: tuple[dict[str, Any], str]) -> Any:
    """The project's OpenAPI document as the app serves it, signing in as the admin."""
    raw, token = document
    return _schema(project_app, copy.deepcopy(raw), token)


def _operation_id(raw: dict[str, Any], path: str) -> str:
    return str(raw["paths"][path]["post"]["operationId"])


def _with_token_links(raw: dict[str, Any]) -> dict[str, Any]:
    """The document plus links: a token pair's refresh_token feeds /refresh and /logout."""
    raw = copy.deepcopy(raw)
    body = {"refresh_token": "$response.body#/refresh_token"}
    links = {
        name: {"operationId": _operation_id(raw, f"/api/auth/{name.lower()}"), "requestBody": body}
        for name in ("Refresh", "Logout")
    }
    for source in ("/api/auth/login", "/api/auth/refresh"):
        raw["paths"][source]["post"]["responses"]["200"]["links"] = links
    return raw


def _failures_of(schema: Any, mode: Any) -> list[str]:
    from hypothesis import given
    from hypothesis.errors import Unsatisfiable

    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @FUZZ_SETTINGS
        @given(case=operation.as_strategy(generation_mode=mode))
        def exercise(case: Any) -> None:
            case.call_and_validate(checks=CHECKS)

        try:
            exercise()
        except Unsatisfiable:  # nothing to break: an operation without parameters or body
            continue
        except (Exception, BaseExceptionGroup) as error:  # report it, go on to the next one
            failures.append(f"{operation.label} [{mode.value}]: {error}")
    return failures


def test_the_token_flow_answers_as_declared(
    project_app: Any, document: tuple[dict[str, Any], str]
) -> None:
    """login -> refresh -> logout (and around), following links, as another user."""
    raw, token = document
    # Only the token operations: the rest would sign the administrator out everywhere.
    schema = _schema(project_app, _with_token_links(raw), token).include(
        path_regex=r"^/api/auth/(login|refresh|logout)$"
    )
    statuses: list[tuple[str, int]] = []

    def map_body(context: Any, body: Any) -> Any:
        if context.operation is not None and context.operation.path == "/api/auth/login":
            return {"email": FLOW_EMAIL, "password": PASSWORD}
        return body

    schema.hook(map_body)  # every sign-in of the flow is the flow user's, so it succeeds

    class TokenFlow(schema.as_state_machine()):  # type: ignore[misc]
        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            statuses.append((case.operation.path, response.status_code))
            case.validate_response(response, checks=CHECKS)

    run_state_machine_as_test(
        TokenFlow,
        settings=hypothesis_settings(
            max_examples=MAX_EXAMPLES,
            stateful_step_count=6,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        ),
    )
    # The links were followed: a sign-in's refresh token was used and then signed out.
    assert ("/api/auth/login", 200) in statuses
    assert ("/api/auth/refresh", 200) in statuses
    assert ("/api/auth/logout", 204) in statuses


def test_the_document_declares_every_answer(api_schema: Any) -> None:
    failures = [
        *_failures_of(api_schema, schemathesis.GenerationMode.POSITIVE),
        *_failures_of(api_schema, schemathesis.GenerationMode.NEGATIVE),
    ]
    assert not failures, "\n\n".join(failures)


def test_the_document_names_one_error_schema(document: tuple[dict[str, Any], str]) -> None:
    raw, _token = document
    schemas = raw["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    error = {"$ref": "#/components/schemas/ErrorResponse"}
    for path, item in raw["paths"].items():
        for method, operation in item.items():
            for status, answer in operation["responses"].items():
                if status.startswith(("4", "5")) and "application/json" in answer.get(
                    "content", {}
                ):
                    schema = answer["content"]["application/json"]["schema"]
                    if not (path == "/health/readiness" and status == "503"):
                        assert schema == error, (method, path, status)
    # Stripped before their length is checked: a blank name is not a name.
    create, update = schemas["GadgetCreateSchema"], schemas["GadgetUpdateSchema"]
    assert create["properties"]["name"]["pattern"] == r"\S"
    # A name may be left out of a PATCH, not sent as null: its column is required.
    assert update["properties"]["name"]["type"] == "string"
    assert update["properties"]["name"]["pattern"] == r"\S"


def test_a_405_allows_every_method_of_the_path(
    project_app: Any, document: tuple[dict[str, Any], str]
) -> None:
    raw, _token = document
    with schemathesis.python.asgi.get_client(project_app) as client:
        for path in ("/api/gadgets/8e773cc8-a709-4502-ab35-4c3e861aa161", "/api/gadgets"):
            response = client.put(path)
            declared = raw["paths"][
                "/api/gadgets/{gadget_id}" if path.count("/") == 3 else "/api/gadgets"
            ]
            assert response.status_code == 405
            allowed = response.headers["Allow"].split(", ")
            assert sorted(allowed) == sorted(method.upper() for method in declared), path
