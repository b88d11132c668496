"""Request-scoped context: the ID of the request being served, who is acting, record flags.

The request ID is set by ``RequestIDMiddleware`` and read by the log formatter; the
actor (the signed-in user, else the running task, else the running ``manage.py``
command) is set by the auth dependency, the admin, the task workers and the command
runner, and read by the audit trail; the flags are the ``extra=`` attributes the
exception handlers set and the log handlers route on.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from typing import Literal, NamedTuple

__all__ = [
    "UNCAUGHT_500_FLAG",
    "Actor",
    "ActorKind",
    "clear_request_id",
    "get_actor",
    "get_request_id",
    "request_id_ctx",
    "reset_actor",
    "set_actor",
    "set_request_id",
]

UNCAUGHT_500_FLAG = "uncaught_500"
"""Record attribute set (via ``extra``) on uncaught-500 records; they go to ``500.log``."""

request_id_ctx: ContextVar[str | None] = ContextVar("tempest_request_id", default=None)
"""The current request's ID; set by ``RequestIDMiddleware``, read by the log formatter."""


def get_request_id() -> str | None:
    """Return the ID of the request being served, if any.

    Returns:
        The request ID, or ``None`` outside a request.
    """
    return request_id_ctx.get()


def set_request_id(request_id: str | None) -> Token[str | None]:
    """Set the current request ID, e.g. in a background job continuing a request.

    Args:
        request_id: The ID to attach to everything logged from this context.

    Returns:
        A token that ``request_id_ctx.reset`` accepts to restore the previous value.
    """
    return request_id_ctx.set(request_id)


def clear_request_id() -> None:
    """Forget the current request ID in this context."""
    request_id_ctx.set(None)


ActorKind = Literal["user", "task", "command"]
"""Who can act: a signed-in user, a background task, a ``manage.py`` command."""


class Actor(NamedTuple):
    """Who is making the current change: ``kind`` and an id (user id, task or command name)."""

    kind: ActorKind
    id: str


_ACTOR_KINDS: tuple[ActorKind, ...] = ("user", "task", "command")
_actors: dict[str, ContextVar[str | None]] = {
    kind: ContextVar(f"tempest_actor_{kind}", default=None) for kind in _ACTOR_KINDS
}


def set_actor(kind: ActorKind, actor_id: str | None) -> Token[str | None]:
    """Record who acts in this context, for the audit trail.

    The auth dependency and the admin set the user, the task workers the task's name, the
    command runner the command's name. Each kind is kept apart: :func:`get_actor` prefers
    the user, then the task, then the command.

    Args:
        kind: ``"user"``, ``"task"`` or ``"command"``.
        actor_id: The user's id, the task's or the command's name; None forgets it.

    Returns:
        A token for :func:`reset_actor`.
    """
    return _actors[kind].set(actor_id)


def reset_actor(token: Token[str | None]) -> None:
    """Undo the :func:`set_actor` call that returned ``token``."""
    token.var.reset(token)


def get_actor() -> Actor | None:
    """Who is acting: the request's user, else the task, else the command; None if no one."""
    for kind in _ACTOR_KINDS:
        value = _actors[kind].get()
        if value is not None:
            return Actor(kind, value)
    return None
