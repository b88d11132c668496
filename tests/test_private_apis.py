"""The private APIs tempest uses, each through one function, against the installed libraries.

tempest/db/internals.py wraps SQLAlchemy's and Alembic's (and FastAPI's request exit
stack), tempest/api/internals.py FastAPI's and Starlette's. Every wrapper is exercised
here on real objects (a SQLite session, an Alembic script directory, FastAPI and
Starlette apps serving requests) and its result checked, so an upgrade that removes or
changes one fails here, with the wrapper's message naming the library, the name and the
installed version.
"""

from __future__ import annotations

import ast
import re
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import alembic
import fastapi
import httpx
import pytest
import sqlalchemy
import starlette
from alembic.script import ScriptDirectory
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.routing import APIRoute
from sqlalchemy import create_engine, inspect
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, configure_mappers, mapped_column
from sqlalchemy.orm.attributes import instance_state
from starlette.applications import Starlette
from starlette.middleware.body_limit import RequestBodyLimitMiddleware, RequestBodyLimitResponder
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

import tempest
from tempest.api import internals as api_internals
from tempest.db import internals as db_internals
from tempest.utils.private_apis import PrivateAPIChanged
from tests.helpers import REPO


def _names_the_change(library: str, version: str, name: str) -> str:
    """The start of the wrappers' message, as a regular expression."""
    return re.escape(
        f"{library} {version} no longer has {name}; tempest {tempest.__version__} needs an update"
    )


# -- every private name of a third-party library goes through a wrapper ------------------

WRAPPERS = {REPO / "tempest/db/internals.py", REPO / "tempest/api/internals.py"}
LIBRARIES = ("sqlalchemy", "alembic", "fastapi", "starlette")


def test_no_module_outside_the_wrappers_imports_a_private_module_of_the_libraries() -> None:
    found = []
    for path in sorted((REPO / "tempest").rglob("*.py")):
        if path in WRAPPERS:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            modules: list[tuple[str, list[str]]] = []
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                modules.append((node.module, [alias.name for alias in node.names]))
            elif isinstance(node, ast.Import):
                modules += [(alias.name, []) for alias in node.names]
            for module, names in modules:
                if module.partition(".")[0] not in LIBRARIES:
                    continue
                private = [part for part in [*module.split("."), *names] if part.startswith("_")]
                if private:
                    found.append(
                        f"{path.relative_to(REPO)}:{getattr(node, 'lineno', 0)} {module} {private}"
                    )
    assert not found, f"use tempest/db/internals.py or tempest/api/internals.py: {found}"


def test_no_module_outside_the_wrappers_reads_fastapis_scope_keys_or_app_privates() -> None:
    pattern = re.compile(r"""["']fastapi_[a-z_]*astack["']|getattr\(app, ["']_""")
    found = [
        f"{path.relative_to(REPO)}: {match.group()}"
        for path in sorted((REPO / "tempest").rglob("*.py"))
        if path not in WRAPPERS
        for match in pattern.finditer(path.read_text(encoding="utf-8"))
    ]
    assert not found, found


# -- SQLAlchemy ---------------------------------------------------------------------------


class _Base(DeclarativeBase):
    pass


class _Item(_Base):
    __tablename__ = "private_api_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]


def _loaded_item(session: Session, pk: int, name: str) -> tuple[Any, Any, Any, dict[str, Any]]:
    """An instance made as the repository's fast get makes one, not yet registered."""
    configure_mappers()  # as an application's first query does
    mapper = inspect(_Item)
    instance = mapper.class_manager.new_instance()
    state = instance_state(instance)
    values = instance.__dict__
    values.update(id=pk, name=name)
    key = mapper.identity_key_from_primary_key((pk,))
    state.key = key
    state.session_id = session.hash_key
    return instance, state, key, values


def test_register_loaded_state_names_sqlalchemy_when_the_identity_map_lacks_it() -> None:
    with Session(create_engine("sqlite://")) as session:
        _, state, key, values = _loaded_item(session, 1, "a")
        with pytest.raises(
            PrivateAPIChanged,
            match=_names_the_change(
                "SQLAlchemy", sqlalchemy.__version__, "IdentityMap._add_unpresent"
            ),
        ):
            db_internals.register_loaded_state(object(), state, key, values)  # type: ignore[arg-type]


def test_register_loaded_state_makes_a_persistent_clean_instance_of_the_session() -> None:
    engine = create_engine("sqlite://")
    _Base.metadata.create_all(engine)
    with Session(engine) as session:
        instance, state, key, values = _loaded_item(session, 1, "a")
        db_internals.register_loaded_state(session.identity_map, state, key, values)

        assert inspect(instance).persistent
        # The table is empty: only the identity map can answer.
        got = session.get(_Item, 1)
        assert got is instance
        assert not session.dirty
        got.name = "b"
        assert instance in session.dirty
        history = inspect(instance).attrs.name.history
        assert (list(history.added), list(history.deleted)) == (["b"], ["a"])  # "a" committed


# -- Alembic ------------------------------------------------------------------------------

REVISION = """\
revision = {revision!r}
down_revision = {down!r}
branch_labels = {labels!r}
depends_on = {depends!r}


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
"""


@pytest.fixture
def script(tmp_path: Path) -> ScriptDirectory:
    """a1 <- b1 <- c1, and x1 on its own branch ``other``, which c1 depends on."""
    versions = tmp_path / "versions"
    versions.mkdir()
    for revision, down, labels, depends in [
        ("a1", None, None, None),
        ("b1", "a1", None, None),
        ("x1", None, ("other",), None),
        ("c1", "b1", None, "other"),  # a branch label, resolved to x1
    ]:
        text = REVISION.format(revision=revision, down=down, labels=labels, depends=depends)
        (versions / f"{revision}.py").write_text(text)
    return ScriptDirectory(str(tmp_path))


def test_root_engine_is_the_engine_execution_options_copies_share() -> None:
    engine = create_engine("sqlite://")
    copy = engine.execution_options(isolation_level="AUTOCOMMIT")
    assert copy is not engine
    assert db_internals.root_engine(copy.execution_options(logging_token="x")) is engine
    assert db_internals.root_engine(engine) is engine
    engine.dispose()


def test_alembic_wrappers_name_alembic_when_the_objects_lack_the_names() -> None:
    version = alembic.__version__
    with pytest.raises(
        PrivateAPIChanged,
        match=_names_the_change("Alembic", version, "Revision._all_down_revisions"),
    ):
        db_internals.all_down_revisions(object())  # type: ignore[arg-type]
    with pytest.raises(
        PrivateAPIChanged,
        match=_names_the_change("Alembic", version, "ScriptDirectory._upgrade_revs"),
    ):
        db_internals.upgrade_steps(object(), "heads", ())  # type: ignore[arg-type]


def test_all_down_revisions_are_the_parents_and_the_resolved_dependencies(
    script: ScriptDirectory,
) -> None:
    revision = script.get_revision("c1")
    assert revision is not None
    assert revision.dependencies == "other"  # the public attribute keeps the label
    assert sorted(db_internals.all_down_revisions(revision)) == ["b1", "x1"]
    first = script.get_revision("a1")
    assert first is not None
    assert db_internals.all_down_revisions(first) == ()


def test_upgrade_steps_are_the_pending_revisions_parents_first(script: ScriptDirectory) -> None:
    steps = db_internals.upgrade_steps(script, "heads", ())
    order = [step.revision.revision for step in steps]
    assert sorted(order) == ["a1", "b1", "c1", "x1"]
    assert order.index("a1") < order.index("b1") < order.index("c1")
    assert order.index("x1") < order.index("c1")
    assert all(step.is_upgrade for step in steps)

    from_b1 = db_internals.upgrade_steps(script, "c1", ("b1",))
    assert sorted(step.revision.revision for step in from_b1) == ["c1", "x1"]


# -- FastAPI ------------------------------------------------------------------------------


def _client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


def test_request_exit_stack_names_fastapi_when_a_route_has_none() -> None:
    async def endpoint() -> None: ...

    scope = {"type": "http", "route": APIRoute("/", endpoint)}
    with pytest.raises(
        PrivateAPIChanged,
        match=re.escape(f"FastAPI {fastapi.__version__} no longer puts the request's exit stack"),
    ):
        db_internals.request_exit_stack(scope)


@pytest.mark.anyio
async def test_request_exit_stack_is_unwound_after_the_response() -> None:
    events: list[str] = []
    app = FastAPI()

    async def closed(*exc_info: object) -> bool:
        events.append("closed")
        return False

    @app.get("/")
    async def route(request: Request) -> dict[str, str]:
        stack = db_internals.request_exit_stack(request.scope)
        assert isinstance(stack, AsyncExitStack)
        stack.push_async_exit(closed)
        events.append("handled")
        return {}

    async with _client(app) as client:
        assert (await client.get("/")).status_code == 200
    assert events == ["handled", "closed"]


@pytest.mark.anyio
async def test_request_exit_stack_is_none_outside_a_fastapi_route() -> None:
    seen: list[object] = []

    async def plain(request: Any) -> PlainTextResponse:
        seen.append(db_internals.request_exit_stack(request.scope))
        return PlainTextResponse("ok")

    async with _client(Starlette(routes=[Route("/", plain)])) as client:
        assert (await client.get("/")).status_code == 200
    assert seen == [None]


def test_native_telemetry_is_the_dict_fastapi_reads_on_every_request() -> None:
    app = FastAPI(telemetry={"tracer_provider": object()})  # type: ignore[arg-type]
    found = api_internals.native_telemetry(app)
    assert found is not None, "this FastAPI takes telemetry=: the wrapper must find it"
    config, native = found
    assert {"tracing", "metrics", "logs", "auto_configure"} <= set(config)
    assert native.enabled()  # a tracer provider is configured, tracing is on
    config.update(tracing=False, metrics=False, logs=False)
    assert not native.enabled()  # what tempest's idle telemetry relies on


def test_flatten_last_inclusion_names_fastapi_when_a_private_is_gone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = FastAPI()
    app.include_router(APIRouter())
    # Simulates the upgrade: FastAPI still includes routers lazily, without that class.
    monkeypatch.delattr(fastapi.routing, "_IncludedRouter")
    with pytest.raises(
        PrivateAPIChanged,
        match=_names_the_change("FastAPI", fastapi.__version__, "fastapi.routing._IncludedRouter"),
    ):
        api_internals.flatten_last_inclusion(app)


def _app_with_an_included_router(*, flat: bool) -> tuple[FastAPI, list[str]]:
    calls: list[str] = []

    def audited() -> None:
        calls.append("dependency")

    router = APIRouter(prefix="/items", tags=["items"], dependencies=[Depends(audited)])

    @router.get("/{item_id}", name="read_item")
    async def read_item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    async def plain(request: Any) -> PlainTextResponse:
        return PlainTextResponse("plain")

    router.add_route("/plain/text", plain)
    app = FastAPI()
    app.include_router(router, prefix="/api")
    if flat:
        api_internals.flatten_last_inclusion(app)
    return app, calls


@pytest.mark.anyio
async def test_flatten_last_inclusion_copies_the_routes_as_fastapi_resolves_them() -> None:
    app, calls = _app_with_an_included_router(flat=True)
    lazy, _ = _app_with_an_included_router(flat=False)
    assert [type(route).__name__ for route in app.router.routes[-2:]] == ["APIRoute", "Route"]
    assert "_IncludedRouter" in {type(route).__name__ for route in lazy.router.routes}
    assert app.openapi() == lazy.openapi()
    assert app.url_path_for("read_item", item_id=3) == "/api/items/3"
    async with _client(app) as client:
        assert (await client.get("/api/items/3")).json() == {"id": 3}
        assert (await client.get("/api/plain/text")).text == "plain"
    assert calls == ["dependency"]  # the router's dependencies came along


# -- Starlette ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("example.com", ("example.com", None)),
        ("example.com:8000", ("example.com", "8000")),
        ("[::1]:80", ("[::1]", "80")),
        ("bad host", None),
        ("example.com:port", None),
    ],
)
def test_host_header_parser_splits_host_and_port(
    header: str, expected: tuple[str, str | None] | None
) -> None:
    parsed = api_internals.host_header_parser()(header)
    assert (None if parsed is None else (parsed.host, parsed.port)) == expected


@pytest.mark.parametrize(
    ("wrapper", "name"),
    [
        (api_internals.body_limit_responder_scope_key, "_BODY_LIMIT_RESPONDER_SCOPE_KEY"),
        (api_internals.starlette_body_too_large_error, "_RequestBodyTooLarge"),
    ],
)
def test_body_limit_wrappers_name_starlette_when_the_name_is_gone(
    wrapper: Any, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from starlette.middleware import body_limit

    monkeypatch.delattr(body_limit, name)  # simulates the upgrade that removes it
    expected = f"starlette.middleware.body_limit.{name}"
    with pytest.raises(
        PrivateAPIChanged, match=_names_the_change("Starlette", starlette.__version__, expected)
    ):
        wrapper()


@pytest.mark.anyio
async def test_starlettes_body_limit_keeps_its_responder_and_raises_its_error() -> None:
    seen: dict[str, object] = {}

    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        seen["responder"] = scope.get(api_internals.body_limit_responder_scope_key())
        try:
            while (await receive()).get("more_body"):
                pass
        except Exception as error:
            seen["error"] = error
            raise
        await PlainTextResponse("read")(scope, receive, send)

    app = RequestBodyLimitMiddleware(endpoint, max_body_size=10)
    async with _client(app) as client:
        assert (await client.post("/", content=b"small")).text == "read"
        assert isinstance(seen.pop("responder"), RequestBodyLimitResponder)
        response = await client.post("/", content=b"x" * 11)
    assert response.status_code == 413
    assert isinstance(seen["error"], api_internals.starlette_body_too_large_error())


def test_the_wrappers_docstrings_name_what_they_wrap_and_the_versions_checked() -> None:
    wrappers = [
        db_internals.register_loaded_state,
        db_internals.all_down_revisions,
        db_internals.upgrade_steps,
        db_internals.request_exit_stack,
        db_internals.root_engine,
        api_internals.native_telemetry,
        api_internals.flatten_last_inclusion,
        api_internals.host_header_parser,
        api_internals.body_limit_responder_scope_key,
        api_internals.starlette_body_too_large_error,
    ]
    undocumented = [
        wrapper.__name__
        for wrapper in wrappers
        if not re.search(r"Wraps\s[^`]*``[^`]*_", wrapper.__doc__ or "")
        or not re.search(r"Checked\s+with\s+\w+\s+\d", wrapper.__doc__ or "")
    ]
    assert not undocumented, undocumented


CAPPED = {
    "fastapi": "fastapi",
    "starlette": "starlette",
    "sqlalchemy": "sqlalchemy",
    "alembic": "alembic",
}
"""Distribution -> module of the libraries whose private names the wrappers above use."""


@pytest.mark.parametrize("distribution", sorted(CAPPED))
def test_libraries_with_private_uses_are_capped_below_their_next_minor(distribution: str) -> None:
    import tomllib

    from packaging.requirements import Requirement
    from packaging.version import Version

    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    requirements = {
        (requirement := Requirement(line)).name.lower(): requirement
        for line in project["project"]["dependencies"]
    }
    specifier = requirements[distribution].specifier
    caps = [spec for spec in specifier if spec.operator == "<"]
    assert len(caps) == 1, f"{distribution} needs an upper bound (<next minor): {specifier}"
    installed = Version(__import__(CAPPED[distribution]).__version__)
    next_minor = Version(f"{installed.major}.{installed.minor + 1}")
    assert Version(caps[0].version) == next_minor, (
        f"{distribution} {installed} is installed: cap it at <{next_minor} once the private "
        "uses in tempest/db/internals.py and tempest/api/internals.py are checked with it"
    )
