"""The checks tempest runs on every project."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tempest.core.checks.messages import CheckMessage, Error, Warning
from tempest.core.checks.placeholders import is_placeholder_secret
from tempest.core.checks.registry import Tags, register_check
from tempest.exceptions.framework import ImproperlyConfigured
from tempest.utils.imports import import_string

SECRET_KEY_MIN_LENGTH = 32
_INSECURE_PREFIX = "insecure-"
_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}


def _settings() -> Any:
    from tempest.conf import settings

    return settings


@register_check(Tags.settings)
def check_middleware(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[CheckMessage]:
    """Every MIDDLEWARE entry imports (tempest.E001)."""
    messages: list[CheckMessage] = []
    for path in _settings().MIDDLEWARE:
        try:
            import_string(path, "MIDDLEWARE")
        except ImproperlyConfigured as error:
            messages.append(
                Error(
                    str(error),
                    hint="Fix the dotted path or remove the entry.",
                    obj="MIDDLEWARE",
                    id="tempest.E001",
                )
            )
    return messages


@register_check(Tags.settings, Tags.database)
def check_idempotency_store(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """``IDEMPOTENCY_URL = "database://"`` has its key table (tempest.E027)."""
    if getattr(_settings(), "IDEMPOTENCY_URL", None) != "database://":
        return []
    from tempest.db.idempotency import idempotency_key_model

    try:
        idempotency_key_model()
    except ImproperlyConfigured as error:
        return [Error(str(error), obj="IDEMPOTENCY_URL", id="tempest.E027")]
    return []


@register_check(Tags.settings, Tags.database)
def check_database_url(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """DATABASE_URL parses and names an async driver (tempest.E002)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    url = _settings().DATABASE_URL
    try:
        parsed = make_url(url)
    except ArgumentError:
        return [
            Error(
                "DATABASE_URL is not a valid database URL.",
                hint="For example sqlite+aiosqlite:///./db.sqlite3 or "
                "postgresql+asyncpg://user:password@host/name.",
                obj="DATABASE_URL",
                id="tempest.E002",
            )
        ]
    expected = _ASYNC_DRIVERS.get(parsed.get_backend_name())
    if expected and parsed.drivername != expected:
        return [
            Error(
                f"DATABASE_URL uses the driver {parsed.drivername!r}, which is not async.",
                hint=f"Write it as {expected}://...",
                obj="DATABASE_URL",
                id="tempest.E002",
            )
        ]
    return []


@register_check(Tags.database)
def check_database_connection(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """The driver is installed (tempest.E026) and the database answers (tempest.W025).

    A server database gets one connection attempt of at most ``PROBE_TIMEOUT`` seconds; a
    SQLite file is not opened, so checking never creates it.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError
    from sqlalchemy.ext.asyncio import create_async_engine

    from tempest.db.reachability import missing_driver_message

    url = str(_settings().DATABASE_URL)
    try:
        parsed = make_url(url)
    except ArgumentError:
        return []  # tempest.E002
    if parsed.drivername != _ASYNC_DRIVERS.get(parsed.get_backend_name(), parsed.drivername):
        return []  # tempest.E002
    try:
        create_async_engine(url).sync_engine.dispose()  # imports the driver, connects not
    except ModuleNotFoundError as error:
        missing = missing_driver_message(error, url)
        if missing is None:
            raise
        return [Error(missing, obj="DATABASE_URL", id="tempest.E026")]
    except Exception:  # a URL the dialect rejects: connecting would say the same
        return []
    if parsed.get_backend_name() == "sqlite":
        return []
    problem = _database_problem(url)
    if problem is None:
        return []
    return [Warning(problem, obj="DATABASE_URL", id="tempest.W025")]


def _database_problem(url: str) -> str | None:
    """Why ``url`` cannot be reached, probed once per URL for a few seconds."""
    import time

    from tempest.db.reachability import PROBE_TIMEOUT, probe_database

    now = time.monotonic()
    cached = _PROBED.get(url)
    if cached is not None and now - cached[0] < PROBE_TIMEOUT:
        return cached[1]
    problem = probe_database(url)
    _PROBED[url] = (time.monotonic(), problem)
    return problem


_PROBED: dict[str, tuple[float, str | None]] = {}
"""Recent probes, so the migrations check does not wait a second time for the same URL."""


@register_check(Tags.settings, Tags.security)
def check_secret_key(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[CheckMessage]:
    """An empty SECRET_KEY is reported in development (tempest.W003)."""
    if _settings().SECRET_KEY:
        return []
    return [
        Warning(
            "SECRET_KEY is empty.",
            hint="Set SECRET_KEY in .env to a long random value, e.g. the output of "
            'python -c "import secrets; print(secrets.token_urlsafe(50))".',
            obj="SECRET_KEY",
            id="tempest.W003",
        )
    ]


@register_check(Tags.settings)
def check_cors(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[CheckMessage]:
    """Credentials are never allowed for every origin (tempest.E004)."""
    settings = _settings()
    if settings.CORS_ALLOW_CREDENTIALS and "*" in settings.CORS_ORIGINS:
        return [
            Error(
                "CORS_ALLOW_CREDENTIALS is on while CORS_ORIGINS allows every origin ('*').",
                hint="List the allowed origins explicitly.",
                obj="CORS_ORIGINS",
                id="tempest.E004",
            )
        ]
    return []


@register_check(Tags.security, deploy=True)
def check_deploy_secret_key(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """SECRET_KEY is long, random-looking and not a development key (tempest.E101)."""
    key = _settings().SECRET_KEY
    if len(key) < SECRET_KEY_MIN_LENGTH or is_placeholder_secret(key) or len(set(key)) < 5:
        return [
            Error(
                f"SECRET_KEY is insecure: it must have at least {SECRET_KEY_MIN_LENGTH} "
                f"characters, not be a placeholder such as .env.example's "
                f"'change-me-...' (or start with {_INSECURE_PREFIX!r}) and not be a "
                "repeated pattern.",
                hint='Generate one with python -c "import secrets; '
                'print(secrets.token_urlsafe(50))" and set it in the environment.',
                obj="SECRET_KEY",
                id="tempest.E101",
            )
        ]
    return []


@register_check(Tags.security, deploy=True)
def check_deploy_debug(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """DEBUG is off in production (tempest.E102)."""
    if not _settings().DEBUG:
        return []
    return [
        Error(
            "DEBUG is on: error responses would carry tracebacks.",
            hint="Set DEBUG=false in the production environment.",
            obj="DEBUG",
            id="tempest.E102",
        )
    ]


@register_check(Tags.settings, Tags.security)
def check_hosts(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[CheckMessage]:
    """Without DEBUG, ALLOWED_HOSTS and SITE_URL are set (tempest.W005, tempest.W006)."""
    settings = _settings()
    if settings.DEBUG:
        return []
    messages: list[CheckMessage] = []
    if not settings.ALLOWED_HOSTS:
        messages.append(
            Warning(
                "ALLOWED_HOSTS is empty and DEBUG is off: every request but the health "
                "probes is answered 400 (DISALLOWED_HOST).",
                hint=_ALLOWED_HOSTS_HINT,
                obj="ALLOWED_HOSTS",
                id="tempest.W005",
            )
        )
    if not settings.SITE_URL:
        messages.append(
            Warning(
                "SITE_URL is empty and DEBUG is off: emails with links (account activation, "
                "password reset) cannot be sent, since links never come from the request.",
                hint=_SITE_URL_HINT,
                obj="SITE_URL",
                id="tempest.W006",
            )
        )
    return messages


@register_check(Tags.security, deploy=True)
def check_deploy_allowed_hosts(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """ALLOWED_HOSTS names the site's hosts, not every host (tempest.E103)."""
    hosts = _settings().ALLOWED_HOSTS
    placeholders = [host for host in hosts if _placeholder_host(host)]
    if hosts and "*" not in hosts and not placeholders:
        return []
    if not hosts:
        problem = "is empty"
    elif "*" in hosts:
        problem = "allows every host ('*')"
    else:
        problem = f"has .env.example's placeholder {placeholders[0]!r}"
    return [
        Error(
            f"ALLOWED_HOSTS {problem}: in production it must list the host names the site "
            "answers, so that requests for other hosts are refused.",
            hint=_ALLOWED_HOSTS_HINT,
            obj="ALLOWED_HOSTS",
            id="tempest.E103",
        )
    ]


@register_check(Tags.security, deploy=True)
def check_deploy_site_url(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """SITE_URL is the site's public https URL (tempest.E104, tempest.W104)."""
    from urllib.parse import urlsplit

    url = _settings().SITE_URL
    if not url:
        return [
            Error(
                "SITE_URL is not set: emails with links (account activation, password reset) "
                "fail, since links are never built from the request's Host header.",
                hint=_SITE_URL_HINT,
                obj="SITE_URL",
                id="tempest.E104",
            )
        ]
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost") or host in ("127.0.0.1", "::1"):
        return [
            Error(
                f"SITE_URL points at this machine ({host}): links in emails would not reach "
                "the site from the recipient's browser.",
                hint=_SITE_URL_HINT,
                obj="SITE_URL",
                id="tempest.E104",
            )
        ]
    if _placeholder_host(host):
        return [
            Error(
                f"SITE_URL is .env.example's placeholder ({host}): links in emails would "
                "lead nowhere.",
                hint=_SITE_URL_HINT,
                obj="SITE_URL",
                id="tempest.E104",
            )
        ]
    if url.startswith("http://"):
        return [
            Warning(
                "SITE_URL is http://: links in emails would carry tokens over plain HTTP.",
                hint="Serve the site over HTTPS and write SITE_URL=https://...",
                obj="SITE_URL",
                id="tempest.W104",
            )
        ]
    return []


def _placeholder_host(host: str) -> bool:
    """A host name left as .env.example ships it (``change-me.example.com``)."""
    return host.lower().lstrip("*.").startswith(("change-me", "changeme", "replace-me"))


_ALLOWED_HOSTS_HINT = (
    'Set ALLOWED_HOSTS to the site\'s host names, e.g. ALLOWED_HOSTS=["shop.example.com"] '
    '(".example.com" adds the subdomains).'
)
_SITE_URL_HINT = "Set SITE_URL to the site's public URL, e.g. SITE_URL=https://shop.example.com."


@register_check(Tags.urls, Tags.apps)
def check_routers(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[CheckMessage]:
    """Every app's routers module imports and defines ``router`` (tempest.E010/E011)."""
    from fastapi import APIRouter

    from tempest.apps import apps

    messages: list[CheckMessage] = []
    for config in app_configs if app_configs is not None else apps.get_app_configs():
        try:
            module = config.import_module("routers")
        except ImproperlyConfigured as error:
            messages.append(
                Error(
                    str(error),
                    hint="Fix the error in routers.py.",
                    obj=config.label,
                    id="tempest.E010",
                )
            )
            continue
        if module is not None and not isinstance(getattr(module, "router", None), APIRouter):
            messages.append(
                Error(
                    f"{config.name}.routers defines no `router` (a fastapi.APIRouter).",
                    hint="Add `router = APIRouter()` to routers.py or delete the module.",
                    obj=config.label,
                    id="tempest.E011",
                )
            )
    return messages


@register_check(Tags.apps)
def check_tasks(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[CheckMessage]:
    """Every app's tasks module imports, its @periodic schedules valid (tempest.E030)."""
    from tempest.apps import apps

    messages: list[CheckMessage] = []
    for config in app_configs if app_configs is not None else apps.get_app_configs():
        try:
            config.import_module("tasks")
        except ImproperlyConfigured as error:
            messages.append(
                Error(
                    str(error).splitlines()[0],
                    hint="Fix the error in tasks.py.",
                    obj=config.label,
                    id="tempest.E030",
                )
            )
    return messages


@register_check(Tags.database, Tags.apps)
def check_migrations(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[CheckMessage]:
    """Migrations load, have one head per app, cover the models and are applied.

    tempest.E020 a revision file does not load; tempest.E021 an app has two heads;
    tempest.W022 an app has models but no migrations; tempest.W023 the database has
    unapplied migrations (only when the database is reachable); tempest.E024 the database
    records a revision that no app has.
    """
    from tempest.apps import apps

    if not apps.ready:  # checks run on settings alone, outside a project
        return []
    from tempest.core.management.migrating import project_migrations
    from tempest.db.migrations import MigrationError

    migrations = project_migrations()
    labels = {config.label for config in app_configs} if app_configs else None
    try:
        script = migrations.script()
    except MigrationError as error:
        return [Error(str(error), hint="Fix or remove the file.", id="tempest.E020")]
    messages: list[CheckMessage] = []
    for app in migrations.apps.values():
        if labels is not None and app.label not in labels:
            continue
        heads = migrations.heads(app.label, script)
        if len(heads) > 1:
            from tempest.db.migrations.project import multiple_heads_message

            messages.append(Error(multiple_heads_message(app.label, heads), id="tempest.E021"))
        elif not heads and app.tables:
            messages.append(
                Warning(
                    f"App {app.label!r} has models but no migrations.",
                    hint=f"Run `manage.py makemigrations {app.label}`.",
                    obj=app.label,
                    id="tempest.W022",
                )
            )
    if any(message.id == "tempest.E021" for message in messages):
        return messages
    try:
        pending = _unapplied_migrations(migrations, script)
    except MigrationError as error:  # the database names a revision no app has
        messages.append(Error(str(error), obj="DATABASE_URL", id="tempest.E024"))
        return messages
    if pending:
        messages.append(
            Warning(
                f"The database has {pending} unapplied migration(s).",
                hint="Run `manage.py migrate` to apply them.",
                obj="DATABASE_URL",
                id="tempest.W023",
            )
        )
    return messages


def _unapplied_migrations(migrations: Any, script: Any) -> int:
    """How many revisions the database lacks; 0 when it cannot be reached."""
    from pathlib import Path

    from sqlalchemy.engine import make_url

    url = make_url(migrations.database_url)
    all_revisions = sum(1 for _ in script.walk_revisions())
    on_disk = url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:")
    if on_disk and not Path(str(url.database)).exists():
        return all_revisions  # never migrated; do not create the file by looking
    if url.get_backend_name() != "sqlite" and _database_problem(migrations.database_url):
        return 0  # tempest.W025 says so, without waiting for the database twice
    try:
        heads = migrations.connect(migrations.current_heads)
    except Exception:  # unreachable or misconfigured: other checks report that
        return 0
    return len(migrations.pending(migrations.applied(heads, script), script))
