"""Email in a fresh project: the console backend in DEBUG, the outbox in the project's tests.

A new project has no SMTP server. With ``DEBUG=true`` (its ``.env``) signup must still work:
the activation email is printed by ``runserver`` instead of sent. The project's own tests
get the in-memory backend and the ``mailoutbox`` fixture. When SMTP is chosen and cannot
be reached, the log line names the settings to fix.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import PYTHON, clean_env, free_port, http, manage, run, serve_project

pytestmark = pytest.mark.e2e

SIGNUP = b'{"email": "ana@example.com", "password": "correct horse battery"}'


def migrated_project(new_project: Callable[..., Path]) -> Path:
    project = new_project("mailsite")
    result = manage(project, "migrate")
    assert result.returncode == 0, result.stdout + result.stderr
    return project


def test_signup_in_debug_prints_the_activation_email(new_project: Callable[..., Path]) -> None:
    project = migrated_project(new_project)
    assert "DEBUG=true" in (project / ".env").read_text()
    with serve_project(project, "runserver", "--noreload", capture=True) as (base, process):
        status, body = http("POST", f"{base}/api/auth/signup", SIGNUP)
        assert status == 202, body
        # The email goes out after the answer; a second request lets it finish.
        assert http("GET", f"{base}/health/liveness")[0] == 200
    output = process.stdout.read() if process.stdout else ""
    assert "could not send email" not in output, output
    block = output[output.index("To: ana@example.com") - 400 :]
    assert "Subject: " in block, output
    links = re.findall(r"http://127\.0\.0\.1:\d+/api/auth/activate\S*token=\S+", block)
    assert links, output


def test_smtp_that_cannot_be_reached_names_the_settings(
    new_project: Callable[..., Path],
) -> None:
    project = migrated_project(new_project)
    port = free_port()  # nothing listens there
    with (project / ".env").open("a") as env_file:
        env_file.write(f"EMAIL_BACKEND=smtp\nSMTP_HOST=127.0.0.1\nSMTP_PORT={port}\n")
    with serve_project(project, "runserver", "--noreload", capture=True) as (base, process):
        status, body = http("POST", f"{base}/api/auth/signup", SIGNUP)
        assert status == 202, body
        assert http("GET", f"{base}/health/liveness")[0] == 200
    output = process.stdout.read() if process.stdout else ""
    expected = (
        f"could not send email through SMTP at 127.0.0.1:{port} (connection refused): "
        "check SMTP_HOST/SMTP_PORT, or set EMAIL_BACKEND=console for development"
    )
    assert expected in output, output


OUTBOX_TEST = """
async def test_signup_sends_the_activation_email(client, mailoutbox):
    response = await client.post(
        "/api/auth/signup", json={"email": "ana@example.com", "password": "correct horse 1"}
    )
    assert response.status_code == 202, response.text
    [email] = mailoutbox
    assert email.to == ["ana@example.com"]
    assert "/activate" in email.body
    assert email.subject


async def test_the_outbox_is_empty_in_each_test(mailoutbox):
    assert mailoutbox == []


def test_the_fixture_is_the_module_outbox(mailoutbox):
    import tempest.mail

    assert mailoutbox is tempest.mail.outbox
"""


def test_the_projects_tests_read_sent_email_from_mailoutbox(
    new_project: Callable[..., Path],
) -> None:
    project = new_project("mailsite")
    (project / "tests" / "test_email.py").write_text(OUTBOX_TEST)
    # An SMTP server in .env must not matter: tests never send real email.
    with (project / ".env").open("a") as env_file:
        env_file.write(f"EMAIL_BACKEND=smtp\nSMTP_HOST=127.0.0.1\nSMTP_PORT={free_port()}\n")
    result = run(
        [PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_email.py"],
        project,
        120,
        clean_env(),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout, result.stdout


def test_the_env_template_explains_the_email_backend(new_project: Callable[..., Path]) -> None:
    env = (new_project("mailsite") / ".env").read_text()
    # Commented out: DEBUG already picks the console backend; the line shows the choices.
    assert "# EMAIL_BACKEND=" in env, env
