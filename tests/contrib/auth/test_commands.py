"""createsuperuser, changepassword and user as a user runs them: manage.py subprocesses
on a new project (which installs tempest.contrib.auth), on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.contrib.auth.conftest import Run
from tests.db.test_migration_commands import error_line, ok

pytestmark = pytest.mark.e2e

CHECK_PASSWORD = (
    "from sqlalchemy import select\n"
    "from tempest.contrib.auth import get_user_model\n"
    "User = get_user_model()\n"
    "async with database.request_session() as s:\n"
    "    user = await s.scalar(select(User).where(User.email == 'ana@example.com'))\n"
    "    print(type(user).__name__, user.check_password('new-password-2'), "
    "user.check_password('first-password'))"
)


def prompted_error(result: subprocess.CompletedProcess[str]) -> str:
    """The error line of a command that read hidden input from a pipe.

    Without a terminal, getpass warns on stderr that input may be echoed; a user at a
    terminal sees only the prompts and the error.
    """
    assert result.returncode == 1, result.stdout
    assert "Traceback" not in result.stderr
    return result.stderr.strip().splitlines()[-1]


def test_createsuperuser_asks_and_creates_an_administrator(project: Run) -> None:
    run = project
    made = run("createsuperuser", input="Admin@Example.com\nsecret-pass-1\nsecret-pass-1\n")
    assert ok(made).endswith("Created administrator admin@example.com.\n")
    assert "secret-pass-1" not in made.stdout  # hidden input is not echoed
    assert ok(run("user", "list")).splitlines() == [
        "admin@example.com (admin)  last sign-in: never",
        "1 user(s).",
    ]
    scripted = run(
        "createsuperuser",
        "--noinput",
        TEMPEST_SUPERUSER_EMAIL="ops@example.com",
        TEMPEST_SUPERUSER_PASSWORD="ops-password-9",
    )
    assert ok(scripted) == "Created administrator ops@example.com.\n"
    assert "2 user(s)." in ok(run("user", "list", "--admin"))


def test_createsuperuser_refuses_bad_input(project: Run) -> None:
    run = project
    assert error_line(run("createsuperuser", "--noinput")) == (
        "Error: --noinput needs TEMPEST_SUPERUSER_EMAIL and TEMPEST_SUPERUSER_PASSWORD in the "
        "environment (or run without --noinput to be asked)."
    )
    assert "TEMPEST_SUPERUSER_PASSWORD in the" in error_line(
        run("createsuperuser", "--noinput", TEMPEST_SUPERUSER_EMAIL="a@example.com")
    )
    invalid = error_line(run("createsuperuser", input="not-an-email\n"))
    assert invalid.startswith("Error: 'not-an-email' is not a valid email address")
    assert prompted_error(
        run("createsuperuser", input="a@example.com\nsecret-pass-1\nother-pass-2\n")
    ) == ("Error: The two passwords differ. Nothing was created.")
    assert prompted_error(run("createsuperuser", input="a@example.com\nshort\nshort\n")) == (
        "Error: The password must have at least 8 characters. Nothing was created."
    )
    ok(run("createsuperuser", input="a@example.com\nsecret-pass-1\nsecret-pass-1\n"))
    taken = run("createsuperuser", input="A@example.com \nsecret-pass-1\nsecret-pass-1\n")
    assert prompted_error(taken) == (
        "Error: A user with email 'a@example.com' already exists. Nothing was changed."
    )
    assert ok(run("user", "list")).endswith("1 user(s).\n")


def test_user_commands_and_changepassword(project: Run) -> None:
    run = project
    created = run("user", "create", "--email", "ana@example.com", "--password", "first-password")
    assert ok(created) == "Created user ana@example.com.\n"  # not a terminal: no question
    assert ok(run("user", "list", "--admin")) == "0 user(s).\n"
    assert ok(run("user", "promote", "--email", "ANA@example.com")) == (
        "ana@example.com is now an administrator.\n"
    )
    assert "ana@example.com (admin)" in ok(run("user", "list", "--admin"))
    ok(run("user", "revoke", "--email", "ana@example.com"))
    assert ok(run("user", "list", "--admin")) == "0 user(s).\n"
    for action in ("promote", "revoke", "activate", "deactivate"):
        missing = run("user", action, "--email", "nobody@example.com")
        assert missing.returncode == 1
        assert error_line(missing) == "Error: no user found with email 'nobody@example.com'."
        assert missing.stdout == ""

    changed = run("changepassword", "ana@example.com", input="new-password-2\nnew-password-2\n")
    assert ok(changed).endswith("Password of ana@example.com changed.\n")
    assert ok(run("shell", "-c", CHECK_PASSWORD)).strip() == "User True False"
    assert error_line(run("changepassword", "nobody@example.com")) == (
        "Error: No user found with email 'nobody@example.com'."
    )
    differ = run("changepassword", "ana@example.com", input="new-password-3\nnope-nope-4\n")
    assert (
        prompted_error(differ) == "Error: The two passwords differ. The password was not changed."
    )
    assert ok(run("shell", "-c", CHECK_PASSWORD)).strip() == "User True False"


def test_commands_before_migrate_say_so(new_project: Callable[..., Path]) -> None:
    from tests.helpers import manage

    root = new_project("shop")
    result = manage(root, "user", "list")
    assert result.returncode == 1
    assert "has `manage.py migrate` run?" in result.stderr and "Traceback" not in result.stderr
