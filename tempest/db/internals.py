"""The private APIs of SQLAlchemy, Alembic and FastAPI's request scope that tempest uses.

Each private name tempest relies on is reached through one function here, whose docstring
names it and the library versions it was checked with. When an upgrade removes it, the
function raises :class:`RuntimeError` naming the library, the name and the installed
version, instead of an ``AttributeError`` deep in a request or a migration.
tests/test_private_apis.py runs every function against the installed libraries, so an
upgrade that changes one fails there first, with that message.

The FastAPI and Starlette internals of the web layer are in :mod:`tempest.api.internals`;
the request scope's exit stack is here because the database's request dependency
(:func:`tempest.db.dependencies.get_session`) needs it and the data layer cannot import
the web layer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tempest.utils.private_apis import PrivateAPIChanged, private_api_changed

if TYPE_CHECKING:
    from collections.abc import Mapping
    from contextlib import AsyncExitStack

    from alembic.script import Script, ScriptDirectory
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm.identity import IdentityMap
    from sqlalchemy.orm.state import InstanceState

__all__ = [
    "PrivateAPIChanged",
    "all_down_revisions",
    "private_api_changed",
    "register_loaded_state",
    "request_exit_stack",
    "root_engine",
    "upgrade_steps",
]


# -- SQLAlchemy --------------------------------------------------------------------------


def register_loaded_state(
    identity_map: IdentityMap, state: InstanceState[Any], key: Any, values: dict[str, Any]
) -> None:
    """Put a freshly loaded instance's state in the session as the ORM's loader does.

    Wraps ``IdentityMap._add_unpresent(state, key)`` (add a state known to be absent) and
    ``InstanceState._commit_all(dict_, instance_dict)`` (mark the loaded values as
    committed), the two steps of ``sqlalchemy.orm.loading`` for a row not yet in the
    identity map. Used by the repository's fast primary-key ``get``. Checked with
    SQLAlchemy 2.1.9.

    Raises:
        PrivateAPIChanged: The installed SQLAlchemy no longer has one of them.
    """
    try:
        add = identity_map._add_unpresent
        commit = state._commit_all
    except AttributeError as error:
        owner = "IdentityMap" if error.obj is identity_map else "InstanceState"
        raise private_api_changed("SQLAlchemy", "sqlalchemy", f"{owner}.{error.name}") from None
    add(state, key)
    commit(values, identity_map)


def root_engine(engine: Engine) -> Engine:
    """The engine that ``engine.execution_options(...)`` copies were made from.

    Wraps ``OptionEngine._proxied``, the engine an ``execution_options()`` copy shares its
    pool and its event listeners with (including listeners added later). Instrumenting
    that root once covers every copy. Checked with SQLAlchemy 2.1.9.

    Args:
        engine: An engine, or a copy made by ``execution_options()`` (of a copy...).

    Returns:
        The engine itself when it is not such a copy.

    Raises:
        PrivateAPIChanged: The installed SQLAlchemy's OptionEngine no longer has it.
    """
    from sqlalchemy.engine.base import OptionEngine

    while isinstance(engine, OptionEngine):
        try:
            engine = engine._proxied
        except AttributeError:
            raise private_api_changed("SQLAlchemy", "sqlalchemy", "OptionEngine._proxied") from None
    return engine


# -- Alembic ------------------------------------------------------------------------------


def all_down_revisions(revision: Script) -> tuple[str, ...]:
    """The revisions applied before ``revision``: its parents and its ``depends_on``.

    Wraps ``Revision._all_down_revisions`` (the parents and the dependencies resolved to
    revision ids; the public ``dependencies`` may hold branch labels). Checked with
    Alembic 1.20.1.

    Raises:
        PrivateAPIChanged: The installed Alembic no longer has it.
    """
    try:
        parents = revision._all_down_revisions
    except AttributeError:
        raise private_api_changed("Alembic", "alembic", "Revision._all_down_revisions") from None
    return tuple(parents)


def upgrade_steps(script: ScriptDirectory, destination: str, current: Any) -> list[Any]:
    """The ``RevisionStep`` list that upgrades from ``current`` heads to ``destination``.

    Wraps ``ScriptDirectory._upgrade_revs(destination, current_rev)``, what ``alembic
    upgrade`` passes to ``env.py`` as the migration function's steps; each step's
    ``.revision`` is the :class:`~alembic.script.Script`. Checked with Alembic 1.20.1.

    Raises:
        PrivateAPIChanged: The installed Alembic no longer has it.
    """
    upgrade_revs = getattr(script, "_upgrade_revs", None)
    if upgrade_revs is None:
        raise private_api_changed("Alembic", "alembic", "ScriptDirectory._upgrade_revs")
    steps: list[Any] = upgrade_revs(destination, current)
    return steps


# -- FastAPI's request scope --------------------------------------------------------------

_EXIT_STACK_KEY = "fastapi_inner_astack"


def request_exit_stack(scope: Mapping[str, Any]) -> AsyncExitStack | None:
    """The exit stack FastAPI unwinds when the request's response has been sent.

    Wraps the scope key ``"fastapi_inner_astack"``, the stack of a route's ``yield``
    dependencies (FastAPI >= 0.118). Checked with FastAPI 0.165.0.

    Args:
        scope: The ASGI scope of the request.

    Returns:
        The stack; None outside a FastAPI route (a Starlette route, a middleware).

    Raises:
        PrivateAPIChanged: The request is in a FastAPI route, but FastAPI no longer keeps
            the stack under that key.
    """
    stack: AsyncExitStack | None = scope.get(_EXIT_STACK_KEY)
    if stack is None and _in_fastapi_route(scope):
        raise private_api_changed(
            "FastAPI",
            "fastapi",
            f'scope["{_EXIT_STACK_KEY}"]',
            change=f'no longer puts the request\'s exit stack in scope["{_EXIT_STACK_KEY}"]',
        )
    return stack


def _in_fastapi_route(scope: Mapping[str, Any]) -> bool:
    from fastapi.routing import APIRoute, APIWebSocketRoute

    return isinstance(scope.get("route"), (APIRoute, APIWebSocketRoute))
