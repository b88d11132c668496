"""Secret settings never print: repr/str, logging, validation errors, override_settings."""

from __future__ import annotations

import logging
import sys
import textwrap
from pathlib import Path
from typing import ClassVar

import pytest
from pydantic import SecretStr, ValidationError, field_validator, model_validator

from tempest.conf import (
    ImproperlyConfigured,
    MinIOSettings,
    Settings,
    load_settings_module,
    override_settings,
    settings,
)
from tempest.conf.masking import (
    MASK,
    URL_PASSWORD_MASK,
    is_secret_setting,
    mask_setting,
    mask_url,
    secret_setting_names,
)

# Values long and odd enough that finding them anywhere means they leaked.
SECRET = "s3cr3t-Value-9f1c2e"
JWT = "jwt-Value-77aa31bd"
ADMIN = "admin-Value-0c4d9e"
SMTP = "smtp-Pass-5b6e1f"
S3_ACCESS = "s3-Access-AKIA42x"
S3_SECRET = "s3-Secret-8d7c6b"
DB_PASSWORD = "db-Pass-31c0ffee"
REDIS_PASSWORD = "redis-Pass-4a4a4a"
STRIPE = "sk_live_Stripe-123abc"
ALL_SECRETS = (
    SECRET,
    JWT,
    ADMIN,
    SMTP,
    S3_ACCESS,
    S3_SECRET,
    DB_PASSWORD,
    REDIS_PASSWORD,
    STRIPE,
)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


class StorageSettings(MinIOSettings, Settings):
    """Every built-in secret in one class, plus a project secret the rule cannot guess."""

    secret_settings: ClassVar[frozenset[str]] = frozenset({"STRIPE_KEY"})

    STRIPE_KEY: str = ""
    REDIS_URL: str = "redis://127.0.0.1:6379/0"
    PUBLIC_NAME: str = "shop"


def _full() -> StorageSettings:
    return StorageSettings(
        SECRET_KEY=SECRET,
        JWT_SECRET=JWT,
        ADMIN_SECRET_KEY=ADMIN,
        SMTP_PASSWORD=SMTP,
        MINIO_ACCESS_KEY=S3_ACCESS,
        MINIO_SECRET_KEY=S3_SECRET,
        DATABASE_URL=f"postgresql+asyncpg://shop:{DB_PASSWORD}@db.internal:5432/shop",
        REDIS_URL=f"redis://:{REDIS_PASSWORD}@cache:6379/0",
        STRIPE_KEY=STRIPE,
    )


def assert_no_secret(text: str) -> None:
    leaked = [value for value in ALL_SECRETS if value in text]
    assert not leaked, f"{leaked} printed in:\n{text}"


# -- the rule --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "SECRET_KEY",
        "JWT_SECRET",
        "ADMIN_SECRET_KEY",
        "TOKEN_SECRET",
        "SMTP_PASSWORD",
        "MINIO_ACCESS_KEY",
        "MINIO_SECRET_KEY",
        "VAPID_PRIVATE_KEY",
        "AWS_SECRET_ACCESS_KEY",
        "GITHUB_TOKEN",
        "SENTRY_API_KEY",
        "PASSWORD",
    ],
)
def test_secret_names(name: str) -> None:
    assert is_secret_setting(name)


@pytest.mark.parametrize(
    "name",
    [
        "DEBUG",
        "DATABASE_URL",
        "AUTH_PASSWORD_MIN_LENGTH",
        "AUTH_PASSWORD_VALIDATORS",
        "AUTH_PASSWORD_HASH_ROUNDS",
        "JWT_ACCESS_TTL_SECONDS",
        "VAPID_PUBLIC_KEY",
        "SECRETARY_EMAIL",
        "TOKENS_PER_PAGE",
        "CORS_ALLOW_CREDENTIALS",
    ],
)
def test_not_secret_names(name: str) -> None:
    assert not is_secret_setting(name)


def test_exactly_the_built_in_secrets_are_secret() -> None:
    import tempest.conf.mixins as mixins

    fields = {
        name
        for value in vars(mixins).values()
        if isinstance(value, type) and issubclass(value, mixins.BaseAppSettings)
        for name in value.model_fields
    } | set(Settings.model_fields)
    assert {name for name in fields if is_secret_setting(name)} == {
        "SECRET_KEY",
        "JWT_SECRET",
        "ADMIN_SECRET_KEY",
        "TOKEN_SECRET",
        "SMTP_PASSWORD",
        "MINIO_ACCESS_KEY",
        "MINIO_SECRET_KEY",
        "VAPID_PRIVATE_KEY",
        "METRICS_TOKEN",
    }
    names = secret_setting_names(StorageSettings)
    assert "STRIPE_KEY" in names  # declared in secret_settings
    assert "DATABASE_URL" not in names  # a URL: only its password is masked


def test_declared_names_add_up_along_the_class_tree() -> None:
    class MoreSettings(StorageSettings):
        secret_settings: ClassVar[frozenset[str]] = frozenset({"PUBLIC_NAME"})

    class Unannotated(StorageSettings):
        secret_settings = ("PUBLIC_NAME",)

    assert {"STRIPE_KEY", "PUBLIC_NAME"} <= secret_setting_names(MoreSettings)
    assert {"STRIPE_KEY", "PUBLIC_NAME"} <= secret_setting_names(Unannotated)
    assert "PUBLIC_NAME" not in secret_setting_names(StorageSettings)
    assert MASK in repr(Unannotated(PUBLIC_NAME="shown-nowhere"))


def test_declaring_an_unknown_name_is_an_error_at_class_creation() -> None:
    with pytest.raises(TypeError, match=r"secret_settings.*STRIPE_KY.*not a field"):

        class Typo(Settings):
            secret_settings: ClassVar[frozenset[str]] = frozenset({"STRIPE_KY"})
            STRIPE_KEY: str = ""


def test_declaring_a_bare_string_is_an_error() -> None:
    with pytest.raises(TypeError, match=r"a collection of names.*not a str"):

        class Bare(Settings):
            secret_settings: ClassVar[str] = "STRIPE_KEY"  # type: ignore[assignment]
            STRIPE_KEY: str = ""


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            f"postgresql+asyncpg://shop:{DB_PASSWORD}@db:5432/shop",
            f"postgresql+asyncpg://shop:{URL_PASSWORD_MASK}@db:5432/shop",
        ),
        (f"redis://:{REDIS_PASSWORD}@cache:6379/0", f"redis://:{URL_PASSWORD_MASK}@cache:6379/0"),
        ("amqp://guest:guest@127.0.0.1:5672/", f"amqp://guest:{URL_PASSWORD_MASK}@127.0.0.1:5672/"),
        # Unencoded '/' and '@' in the password: SQLAlchemy accepts them, urlsplit does not.
        ("postgresql://u:pa/ss@w@db/name", f"postgresql://u:{URL_PASSWORD_MASK}@db/name"),
        (
            f"postgresql://db/shop?user=shop&password={DB_PASSWORD}&sslmode=require",
            f"postgresql://db/shop?user=shop&password={URL_PASSWORD_MASK}&sslmode=require",
        ),
        ("redis://cache:6379/0", "redis://cache:6379/0"),
        ("sqlite+aiosqlite:///./db.sqlite3", "sqlite+aiosqlite:///./db.sqlite3"),
        ("memory://", "memory://"),
        ("https://user@example.com/", "https://user@example.com/"),
        ("not a url", "not a url"),
    ],
)
def test_mask_url(url: str, shown: str) -> None:
    assert mask_url(url) == shown


def test_mask_setting_keeps_empty_values_and_masks_nested_ones() -> None:
    assert mask_setting("SECRET_KEY", "") == ""
    assert mask_setting("SMTP_PASSWORD", None) is None
    assert mask_setting("CORS_ALLOW_SECRET", True) is True  # a flag hides nothing
    assert mask_setting("SECRET_KEY", SECRET) == MASK
    assert mask_setting("ANY", SecretStr(SECRET)) == MASK
    assert mask_setting("STRIPE_KEY", STRIPE) == STRIPE
    assert mask_setting("STRIPE_KEY", STRIPE, secret_names={"STRIPE_KEY"}) == MASK
    databases = {"default": {"HOST": "db", "PASSWORD": DB_PASSWORD}}
    assert mask_setting("DATABASES", databases) == {"default": {"HOST": "db", "PASSWORD": MASK}}
    urls = [f"redis://:{REDIS_PASSWORD}@a/0", "redis://b/0"]
    assert mask_setting("CACHE_URLS", urls) == [f"redis://:{URL_PASSWORD_MASK}@a/0", "redis://b/0"]


# -- where settings print --------------------------------------------------------------


def test_repr_and_str_mask_secrets(workdir: Path) -> None:
    value = _full()
    for text in (repr(value), str(value), f"{value}", f"{value!r}"):
        assert_no_secret(text)
    shown = repr(value)
    assert f"SECRET_KEY='{MASK}'" in shown
    assert f"STRIPE_KEY='{MASK}'" in shown
    assert (
        f"DATABASE_URL='postgresql+asyncpg://shop:{URL_PASSWORD_MASK}@db.internal:5432/shop'"
        in shown
    )
    assert "PUBLIC_NAME='shop'" in shown
    assert "VAPID_PRIVATE_KEY=''" in shown  # empty: nothing to hide, and it says it is unset
    # The values themselves are untouched.
    assert value.SECRET_KEY == SECRET
    assert value.model_dump()["JWT_SECRET"] == JWT


def test_logging_the_settings_masks_secrets(
    workdir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="tests.masking"):
        logging.getLogger("tests.masking").info("settings: %s / %r", _full(), _full())
    assert "SECRET_KEY" in caplog.text
    assert_no_secret(caplog.text)


def test_the_lazy_proxy_repr_names_only_the_class(workdir: Path) -> None:
    settings.configure(_full())  # type: ignore[attr-defined]
    try:
        assert_no_secret(repr(settings))
        assert_no_secret(str(settings))
        assert_no_secret(repr(settings.unwrap()))  # type: ignore[attr-defined]
    finally:
        settings.reset()  # type: ignore[attr-defined]


def test_a_bad_secret_value_is_not_echoed_by_pydantic(workdir: Path) -> None:
    with pytest.raises(ValidationError) as error:
        StorageSettings(SECRET_KEY=[SECRET], STRIPE_KEY={"key": STRIPE}, SERVER_PORT="eighty")
    text = str(error.value)
    assert_no_secret(text)
    assert_no_secret(repr(error.value.errors()))
    assert "SECRET_KEY" in text
    assert "Input should be a valid string" in text
    assert "SERVER_PORT" in text and "'eighty'" in text  # not a secret: still shown


def test_a_validator_message_that_quotes_the_secret_is_scrubbed(workdir: Path) -> None:
    class Checked(Settings):
        API_TOKEN: str = ""
        AUTH_THROTTLE_URL: str = "memory://"

        @field_validator("API_TOKEN")
        @classmethod
        def _long(cls, value: str) -> str:
            if value and len(value) < 40:
                raise ValueError(f"{value!r} is too short")
            return value

        @model_validator(mode="after")
        def _different(self) -> Checked:
            if self.SECRET_KEY == self.JWT_SECRET:
                raise ValueError(f"JWT_SECRET must differ from SECRET_KEY ({self.SECRET_KEY})")
            return self

    with pytest.raises(ValidationError) as error:
        Checked(API_TOKEN=SECRET)
    assert_no_secret(str(error.value))
    assert "is too short" in str(error.value)

    # The throttle URL's validator quotes the whole URL, password included.
    with pytest.raises(ValidationError) as error:
        Checked(AUTH_THROTTLE_URL=f"postgresql://u:{DB_PASSWORD}@db/x")
    assert_no_secret(str(error.value))
    assert f"postgresql://u:{URL_PASSWORD_MASK}@db/x" in str(error.value)

    # A model-level error's input is every value; its message quotes one.
    with pytest.raises(ValidationError) as error:
        Checked(SECRET_KEY=JWT, JWT_SECRET=JWT)
    assert_no_secret(str(error.value))
    assert "JWT_SECRET must differ" in str(error.value)


def test_errors_without_secrets_are_pydantics_own(workdir: Path) -> None:
    with pytest.raises(ValidationError) as error:
        Settings(SERVER_PORT="eighty")
    assert "https://errors.pydantic.dev" in str(error.value)  # untouched, docs link kept


def _write_module(workdir: Path, name: str, body: str) -> str:
    (workdir / f"{name}.py").write_text(textwrap.dedent(body))
    sys.modules.pop(name, None)
    return name


def test_loading_a_module_with_a_bad_secret_does_not_echo_it(workdir: Path) -> None:
    (workdir / ".env").write_text(
        f"SECRET_KEY={SECRET}\nSMTP_PORT=smtp\nJWT_ACCESS_TTL_SECONDS=0\n"
        f"TASKIQ_RESULT_BACKEND_URL=redis://:{REDIS_PASSWORD}@r/0\n"
    )
    name = _write_module(
        workdir,
        "secret_settings_module",
        """
        from pydantic import field_validator
        from tempest.conf import Settings

        class ProjectSettings(Settings):
            @field_validator("SECRET_KEY")
            @classmethod
            def _no_dashes(cls, value: str) -> str:
                if "-" in value:
                    raise ValueError("must not contain dashes, got " + repr(value))
                return value

        settings = ProjectSettings(TASKIQ_QUEUE_NAME=["not", "a", "string"])
        """,
    )
    with pytest.raises(ImproperlyConfigured) as error:
        load_settings_module(name)
    message = str(error.value)
    assert_no_secret(message)
    assert_no_secret(str(error.value.__cause__))
    assert f"SECRET_KEY='{MASK}' (Value error, must not contain dashes, got '{MASK}')" in message
    assert "SMTP_PORT='smtp'" in message
    assert "\n" not in message


def test_override_settings_does_not_echo_a_bad_secret(workdir: Path) -> None:
    settings.configure(Settings())  # type: ignore[attr-defined]
    try:
        with (
            pytest.raises(ImproperlyConfigured) as error,
            override_settings(SECRET_KEY={"value": SECRET}),
        ):
            pass
        assert_no_secret(str(error.value))
        assert "SECRET_KEY" in str(error.value)
    finally:
        settings.reset()  # type: ignore[attr-defined]
