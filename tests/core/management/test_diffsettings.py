"""``manage.py diffsettings``, and secrets masked wherever a real project prints settings."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from tests.helpers import one_line_error
from tests.warm import (  # manage.py processes forked warm
    warm_manage as manage,
    warm_tempest as tempest,
)

pytestmark = pytest.mark.e2e

MASK = "********"
DB_PASSWORD = "db-Pass-31c0ffee"
SMTP = "smtp-Pass-5b6e1f"
ADMIN = "admin-Value-0c4d9e-0123456789abcdef0123"
S3_ACCESS = "s3-Access-AKIA42x"
S3_SECRET = "s3-Secret-8d7c6b"
STRIPE = "sk_live_Stripe-123abc"
REDIS_PASSWORD = "redis-Pass-4a4a4a"
SECRETS_IN_ENV = {
    "DATABASE_URL": f"postgresql+asyncpg://shop:{DB_PASSWORD}@db.internal:5432/shop",
    "SMTP_PASSWORD": SMTP,
    "ADMIN_SECRET_KEY": ADMIN,
    "MINIO_ACCESS_KEY": S3_ACCESS,
    "MINIO_SECRET_KEY": S3_SECRET,
    "STRIPE_KEY": STRIPE,
    "AUTH_THROTTLE_URL": f"redis://:{REDIS_PASSWORD}@cache:6379/1",
}
OFFLINE_SECRETS = {
    name: value
    for name, value in SECRETS_IN_ENV.items()
    if name not in ("DATABASE_URL", "AUTH_THROTTLE_URL")  # commands that connect stay local
}
SETTINGS = '''
"""Settings of the shop project, with a storage mixin and two settings of its own."""

from pathlib import Path
from typing import ClassVar

from pydantic import field_validator
from pydantic_settings import SettingsConfigDict
from tempest.conf import MinIOSettings, Settings

BASE_DIR = Path(__file__).resolve().parent.parent


class ShopSettings(MinIOSettings, Settings):
    model_config = SettingsConfigDict(env_file=BASE_DIR / ".env")
    secret_settings: ClassVar[frozenset[str]] = frozenset({"STRIPE_KEY"})

    TITLE: str = "shop"
    DATABASE_URL: str = f"sqlite+aiosqlite:///{BASE_DIR / 'db.sqlite3'}"
    INSTALLED_APPS: list[str] = ["tempest.contrib.auth", "tempest.contrib.admin"]
    ORDERS_PAGE_SIZE: int = 50
    STRIPE_KEY: str = ""

    @field_validator("STRIPE_KEY")
    @classmethod
    def _live_or_test(cls, value: str) -> str:
        if value and not value.startswith(("sk_live_", "sk_test_")):
            raise ValueError(f"{value!r} is not a Stripe secret key")
        return value


settings = ShopSettings()
'''


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``shop``, with MinIO settings, a declared secret and a setting of its own."""
    root = tmp_path_factory.mktemp("diffsettings")
    created = tempest(root, "startproject", "shop")
    assert created.returncode == 0, created.stderr
    project = root / "shop"
    (project / "shop" / "settings.py").write_text(textwrap.dedent(SETTINGS))
    return project


def dotenv_secrets(project: Path) -> list[str]:
    """The SECRET_KEY and JWT_SECRET that startproject wrote to .env."""
    values = dict(
        line.split("=", 1)
        for line in (project / ".env").read_text().splitlines()
        if line.startswith(("SECRET_KEY=", "JWT_SECRET="))
    )
    assert len(values) == 2 and all(len(value) > 20 for value in values.values())
    return list(values.values())


def assert_no_secret(project: Path, text: str) -> None:
    secrets = [*dotenv_secrets(project), DB_PASSWORD, SMTP, ADMIN, S3_ACCESS, S3_SECRET, STRIPE]
    leaked = [value for value in [*secrets, REDIS_PASSWORD] if value in text]
    assert not leaked, f"{leaked} printed in:\n{text}"


# -- bad input first -------------------------------------------------------------------


def test_without_settings_the_error_says_how_to_configure_them(tmp_path: Path) -> None:
    line = one_line_error(tempest(tmp_path, "diffsettings"))
    assert "Settings are not configured: set TEMPEST_SETTINGS_MODULE" in line


def test_invalid_settings_are_one_line_that_names_the_field(project: Path) -> None:
    result = manage(project, "diffsettings", SERVER_PORT="eighty")
    line = one_line_error(result)
    assert "Invalid settings in shop.settings: SERVER_PORT='eighty'" in line
    assert result.stdout == ""


def test_an_invalid_secret_is_not_echoed_even_with_traceback(project: Path) -> None:
    bad = "pk_live_Published-987xyz"
    for args in (["diffsettings"], ["diffsettings", "--traceback"], ["check"]):
        result = manage(project, *args, STRIPE_KEY=bad)
        assert result.returncode == 1, result
        assert bad not in result.stdout + result.stderr, result.stderr
        assert f"STRIPE_KEY='{MASK}' (Value error, '{MASK}' is not a Stripe secret key)" in (
            result.stderr
        )
    assert "Traceback" in manage(project, "diffsettings", "--traceback", STRIPE_KEY=bad).stderr


def test_an_unknown_option(project: Path) -> None:
    result = manage(project, "diffsettings", "--everything")
    assert result.returncode == 2
    assert "No such option '--everything'" in one_line_error(result)


# -- the output ------------------------------------------------------------------------


def test_shows_what_differs_from_tempests_defaults_secrets_masked(project: Path) -> None:
    result = manage(project, "diffsettings", **SECRETS_IN_ENV)
    assert result.returncode == 0, result.stderr
    assert_no_secret(project, result.stdout + result.stderr)
    lines = result.stdout.splitlines()
    assert lines == sorted(lines)
    for expected in (
        f"ADMIN_SECRET_KEY = '{MASK}'",
        "AUTH_THROTTLE_URL = 'redis://:***@cache:6379/1'",
        "DATABASE_URL = 'postgresql+asyncpg://shop:***@db.internal:5432/shop'",
        "DEBUG = True",
        "INSTALLED_APPS = ['tempest.contrib.auth', 'tempest.contrib.admin']",
        f"JWT_SECRET = '{MASK}'",
        f"MINIO_ACCESS_KEY = '{MASK}'",
        f"MINIO_SECRET_KEY = '{MASK}'",
        "ORDERS_PAGE_SIZE = 50  ###",
        f"SECRET_KEY = '{MASK}'",
        f"SMTP_PASSWORD = '{MASK}'",
        f"STRIPE_KEY = '{MASK}'  ###",
        "TITLE = 'shop'",
    ):
        assert expected in lines, f"{expected!r} not in\n{result.stdout}"
    # At their default: not shown.
    assert not [line for line in lines if line.startswith(("SERVER_PORT", "MINIO_BUCKET"))]


def test_a_value_equal_to_the_default_is_not_shown(project: Path) -> None:
    shown = manage(project, "diffsettings", SERVER_PORT="8000", LOG_LEVEL="info").stdout
    assert "SERVER_PORT" not in shown and "LOG_LEVEL" not in shown
    changed = manage(project, "diffsettings", SERVER_PORT="9000").stdout.splitlines()
    assert "SERVER_PORT = 9000" in changed


def test_all_shows_every_setting_and_marks_the_defaults(project: Path) -> None:
    result = manage(project, "diffsettings", "--all", **SECRETS_IN_ENV)
    assert result.returncode == 0, result.stderr
    assert_no_secret(project, result.stdout)
    lines = result.stdout.splitlines()
    assert "### SERVER_PORT = 8000" in lines
    assert not [line for line in lines if "UPLOAD_MAX_SIZE_BYTES" in line]  # not a field
    assert "### TOKEN_SECRET = ''" in lines  # empty: shown as is, at its default
    assert "### SMTP_USERNAME = None" in lines
    assert "### RABBITMQ_URL = 'amqp://guest:***@127.0.0.1:5672/'" in lines
    assert "DEBUG = True" in lines and "ORDERS_PAGE_SIZE = 50  ###" in lines
    names = {line.removeprefix("### ").split(" = ")[0] for line in lines}
    shell = manage(project, "shell", "-c", "print(len(type(settings.unwrap()).model_fields))")
    assert len(lines) == len(names) == int(shell.stdout)


def test_json(project: Path) -> None:
    result = manage(project, "diffsettings", "--json", **SECRETS_IN_ENV)
    assert result.returncode == 0, result.stderr
    assert_no_secret(project, result.stdout)
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert all(
        set(row) == {"name", "value", "default", "framework", "is_default"} for row in rows.values()
    )
    assert rows["SECRET_KEY"] == {
        "name": "SECRET_KEY",
        "value": MASK,
        "default": "",
        "framework": True,
        "is_default": False,
    }
    assert rows["ORDERS_PAGE_SIZE"] == {
        "name": "ORDERS_PAGE_SIZE",
        "value": 50,
        "default": None,
        "framework": False,
        "is_default": False,
    }
    assert rows["DATABASE_URL"]["value"].endswith(":***@db.internal:5432/shop")
    assert rows["INSTALLED_APPS"]["value"] == ["tempest.contrib.auth", "tempest.contrib.admin"]
    assert "SERVER_PORT" not in rows
    every = json.loads(manage(project, "diffsettings", "--json", "--all").stdout)
    server_port = next(row for row in every if row["name"] == "SERVER_PORT")
    assert server_port["is_default"] is True and server_port["value"] == 8000


def test_the_environment_is_not_a_default(project: Path) -> None:
    """Defaults are tempest's even when the environment sets the same names."""
    result = manage(project, "diffsettings", "--json", "--all", SERVER_PORT="9001")
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["SERVER_PORT"]["default"] == 8000
    assert rows["SERVER_PORT"]["value"] == 9001


# -- other places settings print -------------------------------------------------------


def test_printing_the_settings_in_the_shell_masks_secrets(project: Path) -> None:
    code = "print(settings.unwrap()); print(repr(settings)); print(settings)"
    result = manage(project, "shell", "-c", code, **OFFLINE_SECRETS)
    assert result.returncode == 0, result.stderr
    assert_no_secret(project, result.stdout + result.stderr)
    assert f"SMTP_PASSWORD='{MASK}'" in result.stdout
    # The values themselves are the real ones.
    real = manage(project, "shell", "-c", "print(settings.SMTP_PASSWORD)", **OFFLINE_SECRETS)
    assert real.stdout.strip() == SMTP


def test_check_does_not_print_secrets(project: Path) -> None:
    result = manage(
        project, "check", "--deploy", SECRET_KEY="change-me-Value-1234", **OFFLINE_SECRETS
    )
    output = result.stdout + result.stderr
    assert "SECRET_KEY is insecure" in output
    assert "change-me-Value-1234" not in output
    assert_no_secret(project, output)


def test_listed_in_help(project: Path) -> None:
    result = manage(project, "--help")
    assert "diffsettings" in result.stdout
    assert "differ from tempest's defaults" in result.stdout
