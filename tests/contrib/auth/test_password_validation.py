"""Password rules (AUTH_PASSWORD_VALIDATORS): each bundled validator, the setting, every
path that sets a password (API signup, reset, change; createsuperuser, changepassword,
user create), and whitespace treated the same everywhere (never stripped)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tempest.conf import Settings, settings
from tempest.contrib.auth.password_validation import (
    CommonPasswordValidator,
    MinimumLengthValidator,
    NumericPasswordValidator,
    PasswordValidationError,
    UserAttributeSimilarityValidator,
    validate_password,
)
from tempest.exceptions import ImproperlyConfigured
from tests.contrib.auth.conftest import PASSWORD, AuthEnv

pytestmark = pytest.mark.usefixtures("restore_root_logging")

AUTH = "/api/auth"
ANA = SimpleNamespace(email="ana.silva@example.com")


@pytest.fixture
def default_settings() -> Iterator[None]:
    settings.configure(Settings())  # type: ignore[attr-defined]
    yield
    settings.reset()  # type: ignore[attr-defined]


def codes(password: str, user: Any = None) -> list[str]:
    try:
        validate_password(password, user)
    except PasswordValidationError as error:
        return [problem.code for problem in error.problems]
    return []


# -- the validators ---------------------------------------------------------------------


def test_each_validator_refuses_what_it_should(default_settings: None) -> None:
    assert codes("Xq7#mL2p") == []  # eight characters, none of the rules
    assert codes("Xq7#mL2") == ["PASSWORD_TOO_SHORT"]
    assert codes("sunshine1") == ["PASSWORD_TOO_COMMON"]
    assert codes("SunShine1 ") == ["PASSWORD_TOO_COMMON"]  # compared lowercased, stripped
    assert codes("80914371126") == ["PASSWORD_ENTIRELY_NUMERIC"]
    assert codes("anasilva2", ANA) == ["PASSWORD_TOO_SIMILAR"]
    assert codes("anasilva2") == []  # no user: the similarity rule is skipped
    assert codes("example.com!", ANA) == ["PASSWORD_TOO_SIMILAR"]
    with pytest.raises(PasswordValidationError) as raised:
        validate_password("Xq7#mL2", validators=[MinimumLengthValidator(12)])
    assert raised.value.problems[0].params == {"min_length": 12}
    assert "at least 12 characters" in str(raised.value)


def test_every_failed_rule_is_reported_at_once(default_settings: None) -> None:
    assert codes("1234567") == [
        "PASSWORD_TOO_SHORT",
        "PASSWORD_TOO_COMMON",
        "PASSWORD_ENTIRELY_NUMERIC",
    ]


def test_validators_are_configured_by_setting(tmp_path: Path) -> None:
    words = tmp_path / "words.txt"
    words.write_text("Tempest-Rocks\n", encoding="utf-8")
    module = "tempest.contrib.auth.password_validation"
    settings.configure(  # type: ignore[attr-defined]
        Settings(
            AUTH_PASSWORD_VALIDATORS=[
                {"NAME": f"{module}.MinimumLengthValidator", "OPTIONS": {"min_length": 14}},
                {
                    "NAME": f"{module}.CommonPasswordValidator",
                    "OPTIONS": {"password_list_path": str(words)},
                },
            ]
        )
    )
    try:
        assert codes("tempest-rocks") == ["PASSWORD_TOO_SHORT", "PASSWORD_TOO_COMMON"]
        assert codes("123456789012345") == []  # numeric and common rules are off
        settings.configure(Settings(AUTH_PASSWORD_VALIDATORS=[{"NAME": "nope.Missing"}]))  # type: ignore[attr-defined]
        with pytest.raises(ImproperlyConfigured, match="AUTH_PASSWORD_VALIDATORS"):
            validate_password("whatever-password")
        settings.configure(  # type: ignore[attr-defined]
            Settings(
                AUTH_PASSWORD_VALIDATORS=[
                    {"NAME": f"{module}.MinimumLengthValidator", "OPTIONS": {"max": 3}}
                ]
            )
        )
        with pytest.raises(ImproperlyConfigured, match="refuses its OPTIONS"):
            validate_password("whatever-password")
        settings.configure(Settings(AUTH_PASSWORD_VALIDATORS=[]))  # type: ignore[attr-defined]
        assert codes("1") == []
    finally:
        settings.reset()  # type: ignore[attr-defined]


def test_bundled_list_and_similarity_options() -> None:
    assert len(CommonPasswordValidator().passwords) > 19_000
    NumericPasswordValidator().validate("1234a")
    loose = UserAttributeSimilarityValidator(max_similarity=1.0)
    loose.validate("anasilva", ANA)
    with pytest.raises(ValueError, match="max_similarity"):
        UserAttributeSimilarityValidator(max_similarity=0.05)


# -- the API ------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_signup_lists_every_failed_rule_in_the_422(env: AuthEnv) -> None:
    response = await env.signup("ana.silva@example.com", "1234567")
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "PASSWORD_INVALID", body
    assert body["details"]["field"] == "password"
    assert [error["code"] for error in body["details"]["errors"]] == [
        "PASSWORD_TOO_SHORT",
        "PASSWORD_TOO_COMMON",
        "PASSWORD_ENTIRELY_NUMERIC",
    ]
    assert body["details"]["errors"][0]["min_length"] == 8
    similar = await env.signup("ana.silva@example.com", "silva.ana")
    assert [e["code"] for e in similar.json()["details"]["errors"]] == ["PASSWORD_TOO_SIMILAR"]
    assert env.smtp.messages == []


@pytest.mark.anyio
async def test_reset_confirm_runs_the_rules_with_the_user(env: AuthEnv) -> None:
    await env.active_user("ana.silva@example.com")
    await env.http.post(f"{AUTH}/password-reset/request", json={"email": "ana.silva@example.com"})
    token = env.last_token()
    weak = await env.http.post(
        f"{AUTH}/password-reset/confirm", json={"token": token, "password": "silva.ana"}
    )
    assert weak.status_code == 422, weak.text
    assert [e["code"] for e in weak.json()["details"]["errors"]] == ["PASSWORD_TOO_SIMILAR"]
    done = await env.http.post(
        f"{AUTH}/password-reset/confirm", json={"token": token, "password": "a brand new one"}
    )
    assert done.status_code == 200, done.text


@pytest.mark.anyio
async def test_spaces_in_passwords_are_kept_on_the_api(env: AuthEnv) -> None:
    spaced = f"  {PASSWORD}  "
    await env.active_user("ana@example.com", spaced)
    assert (await env.login("ana@example.com", spaced)).status_code == 200
    assert (await env.login("ana@example.com", PASSWORD)).status_code == 401
    # Eight characters only because of the spaces: the length counts them too.
    assert (await env.signup("bob@example.com", "  Xq7#m  ")).status_code == 202


# -- the commands (manage.py subprocesses on a new project) -------------------------------

Run = Callable[..., subprocess.CompletedProcess[str]]

CHECK = (
    "from sqlalchemy import select\n"
    "from tempest.contrib.auth import get_user_model\n"
    "User = get_user_model()\n"
    "async with database.request_session() as s:\n"
    "    user = await s.scalar(select(User).where(User.email == {email!r}))\n"
    "    print([user.check_password(p) for p in {passwords!r}])"
)


@pytest.fixture
def project(new_project: Callable[..., Path]) -> Iterator[Run]:
    """A migrated new project on SQLite; yields ``run(*args, input=None, **env)``."""
    from tests.db.test_migration_commands import ok

    root = new_project("shop")

    def run(*args: str, input: str | None = None, **extra: str) -> subprocess.CompletedProcess[str]:
        from tests.helpers import PYTHON, clean_env

        return subprocess.run(
            [PYTHON, "manage.py", *args],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=60,
            env=clean_env(AUTH_PASSWORD_HASH_ROUNDS="4", **extra),
            input=input,
        )

    ok(run("migrate"))
    yield run


def checked(run: Run, email: str, *passwords: str) -> list[bool]:
    from tests.db.test_migration_commands import ok

    output = ok(run("shell", "-c", CHECK.format(email=email, passwords=list(passwords))))
    result: list[bool] = eval(output.strip().splitlines()[-1])
    return result


@pytest.mark.e2e
def test_commands_refuse_weak_passwords_and_keep_spaces(project: Run) -> None:
    from tests.db.test_migration_commands import ok

    run = project
    refused = run(
        "createsuperuser",
        "--noinput",
        TEMPEST_SUPERUSER_EMAIL="ops@example.com",
        TEMPEST_SUPERUSER_PASSWORD="1234567",
    )
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines()[-1] == (
        "Error: The password must have at least 8 characters. The password is too common. "
        "The password is made of digits only. Nothing was created."
    )
    spaced = "  ops secret 9  "
    ok(
        run(
            "createsuperuser",
            "--noinput",
            TEMPEST_SUPERUSER_EMAIL="ops@example.com",
            TEMPEST_SUPERUSER_PASSWORD=spaced,
        )
    )
    assert checked(run, "ops@example.com", spaced, spaced.strip()) == [True, False]

    weak = run("user", "create", "--email", "ana@example.com", "--password", "sunshine1")
    assert weak.returncode == 1
    assert "The password is too common." in weak.stderr
    ok(run("user", "create", "--email", "ana@example.com", "--password", "first pass 1"))

    # changepassword with a real stdin: spaces are kept.
    ok(run("changepassword", "ana@example.com", input=" second pass 2 \n second pass 2 \n"))
    assert checked(run, "ana@example.com", " second pass 2 ", "second pass 2") == [True, False]


@pytest.mark.e2e
def test_interactive_prompts_ask_again_after_a_refused_password(project: Run) -> None:
    from tests.db.test_migration_commands import ok

    run = project
    made = run(
        "createsuperuser",
        input="admin@example.com\n1234567\n1234567\nadmin-secret-7\nadmin-secret-7\n",
    )
    out = ok(made)
    assert out.endswith("Created administrator admin@example.com.\n")
    assert "The password is made of digits only." in made.stderr
    changed = run(
        "changepassword",
        "admin@example.com",
        input="adminexample\nadminexample\nother pass 1\nother pass 2\nnew-secret-8\nnew-secret-8\n",
    )
    assert ok(changed).endswith("Password of admin@example.com changed.\n")
    assert "The password is too similar to the email." in changed.stderr
    assert "The two passwords differ" in changed.stderr
    assert checked(run, "admin@example.com", "new-secret-8") == [True]
