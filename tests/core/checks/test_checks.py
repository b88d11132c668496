"""The system check framework and the built-in checks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tempest.conf import Settings, settings
from tempest.core.checks import (
    CheckRegistry,
    Error,
    Warning,
    registry,
    run_system_checks,
)
from tests.warm import warm_manage as manage  # manage.py processes forked warm


@pytest.fixture
def configure(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Any]:
    monkeypatch.chdir(tmp_path)

    def apply(**values: Any) -> None:
        # A site that says where it lives (tempest.W005/W006, E103/E104 otherwise).
        values.setdefault("SITE_URL", "https://shop.acme-store.com")
        values.setdefault("ALLOWED_HOSTS", ["shop.acme-store.com"])
        settings.configure(Settings(**values))  # type: ignore[attr-defined]

    yield apply
    settings.reset()  # type: ignore[attr-defined]


def ids(**kwargs: Any) -> list[str | None]:
    return [
        message.id
        for message in run_system_checks(tags=["settings", "security"], **kwargs).messages
    ]


GOOD_KEY = "k3J9-vQ2x_Lp8ZrT5mWn0bYc7HdF4sGa1eUo6iRt"


def test_a_sane_configuration_has_no_issues(configure: Any) -> None:
    configure(SECRET_KEY=GOOD_KEY)
    assert ids() == []
    assert ids(deploy=True) == []


def test_empty_secret_key_warns_in_development(configure: Any) -> None:
    configure()
    assert ids() == ["tempest.W003"]


@pytest.mark.parametrize(
    "key", ["short", "insecure-" + "x" * 40, "a" * 40, "change-me-to-a-long-random-value"]
)
def test_insecure_secret_key_in_deploy_mode(configure: Any, key: str) -> None:
    configure(SECRET_KEY=key)
    assert "tempest.E101" in ids(deploy=True)
    assert "tempest.E101" not in ids()


def test_debug_in_deploy_mode(configure: Any) -> None:
    configure(SECRET_KEY=GOOD_KEY, DEBUG=True)
    assert ids(deploy=True) == ["tempest.E102"]


def test_middleware_that_does_not_import(configure: Any) -> None:
    configure(SECRET_KEY=GOOD_KEY, MIDDLEWARE=["tempest.api.middleware.Nope", "no.such.Module"])
    assert ids() == ["tempest.E001", "tempest.E001"]


@pytest.mark.parametrize(
    ("url", "hint"),
    [
        ("postgresql://u@h/db", "postgresql+asyncpg://"),
        ("sqlite:///db.sqlite3", "sqlite+aiosqlite://"),
        ("not a url", "For example"),
    ],
)
def test_database_url_must_be_async(configure: Any, url: str, hint: str) -> None:
    configure(SECRET_KEY=GOOD_KEY, DATABASE_URL=url)
    messages = run_system_checks(tags=["database"]).messages
    assert [message.id for message in messages] == ["tempest.E002"]
    assert hint in str(messages[0])


def test_cors_credentials_with_every_origin(configure: Any) -> None:
    configure(SECRET_KEY=GOOD_KEY, CORS_ORIGINS=["*"], CORS_ALLOW_CREDENTIALS=True)
    assert ids() == ["tempest.E004"]


def test_silenced_checks_are_counted_not_shown(configure: Any) -> None:
    configure(SILENCED_SYSTEM_CHECKS=["tempest.W003"])
    report = run_system_checks(tags=["settings"])
    assert report.messages == []
    assert report.silenced == 1
    assert report.render() == "System check identified no issues (1 silenced)."


def test_register_check_with_tags_and_deploy() -> None:
    local = CheckRegistry()

    @local.register("money")
    def always(app_configs: Any = None, **kwargs: Any) -> list[Any]:
        return [Warning("careful", id="shop.W001")]

    @local.register(deploy=True)
    def production(app_configs: Any = None, **kwargs: Any) -> list[Any]:
        return [Error("not in production", hint="fix it", obj="shop", id="shop.E001")]

    local.register(always)  # registering twice keeps one
    assert [m.id for m in local.run_checks()] == ["shop.W001"]
    assert [m.id for m in local.run_checks(include_deployment_checks=True)] == [
        "shop.W001",
        "shop.E001",
    ]
    assert [m.id for m in local.run_checks(tags=["other"])] == []
    assert local.tags_available() == {"money"}
    message = local.run_checks(include_deployment_checks=True)[1]
    assert str(message) == "shop: (shop.E001) not in production\n\tHINT: fix it"


def test_a_check_must_return_a_list() -> None:
    local = CheckRegistry()

    @local.register
    def broken(app_configs: Any = None, **kwargs: Any) -> Any:
        return None

    with pytest.raises(TypeError, match="must return a list"):
        local.run_checks()


def test_builtin_tags_are_listed() -> None:
    assert {"settings", "security", "database", "urls"} <= registry.tags_available(deploy=True)


@pytest.mark.e2e
def test_check_deploy_on_a_generated_project(shared_project: Path) -> None:
    development = manage(shared_project, "check", "--deploy")
    assert development.returncode == 1
    assert "(tempest.E102) DEBUG is on" in development.stderr
    production = manage(
        shared_project,
        "check",
        "--deploy",
        DEBUG="false",
        SITE_URL="https://shop.acme-store.com",
        ALLOWED_HOSTS='["shop.acme-store.com"]',
    )
    assert production.returncode == 0, production.stderr
    weak = manage(shared_project, "check", "--deploy", DEBUG="false", SECRET_KEY="changeme")
    assert weak.returncode == 1 and "tempest.E101" in weak.stderr


@pytest.mark.e2e
def test_check_options_on_a_generated_project(shared_project: Path) -> None:
    assert "security" in manage(shared_project, "check", "--list-tags", "--deploy").stdout
    bad_tag = manage(shared_project, "check", "--tag", "nope")
    assert bad_tag.returncode == 1 and "Unknown tag(s): nope" in bad_tag.stderr
    bad_app = manage(shared_project, "check", "ordrs")
    assert "Did you mean 'orders'?" in bad_app.stderr
    warn = manage(shared_project, "check", "--fail-level", "WARNING", SECRET_KEY="")
    assert warn.returncode == 1 and "tempest.W003" in warn.stderr
