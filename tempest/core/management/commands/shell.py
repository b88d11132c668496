"""Open an asyncio Python shell with the project loaded."""

from __future__ import annotations

import ast
import asyncio
import code
import importlib
import importlib.util
import inspect
import types
from typing import Any

import click

from tempest.core.management.base import CommandError, echo


@click.command()
@click.option("-c", "--command", "source", help="Run this code (top-level await allowed) and exit.")
@click.option(
    "--plain", is_flag=True, help="Use the plain Python shell even if IPython is installed."
)
def command(source: str | None, plain: bool) -> None:
    """Open an asyncio Python shell with the project loaded.

    `await` works at the top level. Preloaded: settings, apps, database (the project's
    AsyncDatabaseManager, connected), Session (its session factory), select, and every
    installed model by class name.
    """
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    namespace = _namespace()
    database = namespace["database"]
    loop.run_until_complete(database.connect())
    try:
        namespace["Session"] = database.session_factory
        if source is not None:
            _run_source(source, namespace, loop)
        elif not plain and _ipython_available():
            _start_ipython(namespace)
        else:
            _AsyncConsole(namespace, loop).interact(banner=_banner(namespace), exitmsg="")
    finally:
        loop.run_until_complete(database.disconnect())
        loop.close()
        asyncio.set_event_loop(None)


def _namespace() -> dict[str, Any]:
    from sqlalchemy import select

    from tempest.apps import apps
    from tempest.conf import settings
    from tempest.db.session import get_database

    namespace: dict[str, Any] = {
        "__name__": "__console__",
        "settings": settings,
        "apps": apps,
        "database": get_database(),
        "select": select,
    }
    for model in apps.get_models():
        namespace[model.__name__] = model
    return namespace


def _banner(namespace: dict[str, Any]) -> str:
    models = sorted(name for name, value in namespace.items() if isinstance(value, type))
    return (
        "tempest shell: `await` works at the top level.\n"
        f"Loaded: settings, apps, database, Session, select, {', '.join(models) or 'no models'}."
    )


def _compile(source: str, mode: str) -> types.CodeType:
    compiled: types.CodeType = compile(
        source, "<shell>", mode, flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
    )
    return compiled


def _run_source(source: str, namespace: dict[str, Any], loop: asyncio.AbstractEventLoop) -> None:
    try:
        compiled = _compile(source, "exec")
    except SyntaxError as error:
        raise CommandError(f"shell -c: {error.msg} (line {error.lineno}).") from error
    result = types.FunctionType(compiled, namespace)()
    if inspect.iscoroutine(result):
        loop.run_until_complete(result)


class _AsyncConsole(code.InteractiveConsole):
    """The standard console, with top-level ``await`` run on the shell's event loop."""

    def __init__(self, namespace: dict[str, Any], loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(namespace)
        self.compile.compiler.flags |= ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
        self.loop = loop

    def runcode(self, code: types.CodeType) -> None:
        try:
            result = types.FunctionType(code, self.locals)()
            if inspect.iscoroutine(result):
                self.loop.run_until_complete(result)
        except SystemExit:
            raise
        except BaseException:
            self.showtraceback()


def _ipython_available() -> bool:
    return importlib.util.find_spec("IPython") is not None


def _start_ipython(namespace: dict[str, Any]) -> None:
    ipython: Any = importlib.import_module("IPython")
    echo("IPython shell: `await` works at the top level.")
    ipython.start_ipython(argv=[], user_ns=namespace)
