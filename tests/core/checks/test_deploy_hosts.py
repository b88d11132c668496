"""``check`` and ``check --deploy`` on SITE_URL, ALLOWED_HOSTS and placeholder secrets.

Each case runs ``python manage.py check`` in a generated project, as an operator would
before going live; the environment overrides the project's ``.env``.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tempest.conf import Settings, settings, site_url
from tempest.exceptions.framework import ImproperlyConfigured
from tests.helpers import PYTHON, clean_env
from tests.warm import warm_manage as manage, warm_run  # manage.py processes forked warm

LIVE = {
    "DEBUG": "false",
    "SITE_URL": "https://shop.acme-store.com",
    "ALLOWED_HOSTS": '["shop.acme-store.com"]',
}


def check_deploy(project: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``python manage.py check --deploy`` with ``env`` over the project's ``.env``."""
    return warm_run([PYTHON, "manage.py", "check", "--deploy"], project, 60, clean_env(**env))


def output(result: object) -> str:
    return str(getattr(result, "stdout", "")) + str(getattr(result, "stderr", ""))


@pytest.mark.e2e
def test_deploy_needs_site_url_and_allowed_hosts(shared_project: Path) -> None:
    ready = check_deploy(shared_project, LIVE)
    assert ready.returncode == 0, output(ready)

    unset = check_deploy(shared_project, LIVE | {"SITE_URL": "", "ALLOWED_HOSTS": "[]"})
    assert unset.returncode == 1
    assert "ALLOWED_HOSTS: (tempest.E103) ALLOWED_HOSTS is empty" in output(unset)
    assert "SITE_URL: (tempest.E104) SITE_URL is not set" in output(unset)
    assert "HINT: Set SITE_URL to the site's public URL" in output(unset)

    star = check_deploy(shared_project, LIVE | {"ALLOWED_HOSTS": '["*"]'})
    assert star.returncode == 1
    assert "(tempest.E103) ALLOWED_HOSTS allows every host ('*')" in output(star)


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("url", "expected", "code"),
    [
        ("http://127.0.0.1:8000", "(tempest.E104) SITE_URL points at this machine", 1),
        ("https://change-me.example.com", "(tempest.E104) SITE_URL is .env.example's", 1),
        ("http://shop.acme-store.com", "(tempest.W104) SITE_URL is http://", 0),
    ],
)
def test_deploy_refuses_a_site_url_that_emails_cannot_use(
    shared_project: Path, url: str, expected: str, code: int
) -> None:
    result = check_deploy(shared_project, LIVE | {"SITE_URL": url})
    assert result.returncode == code, output(result)
    assert expected in output(result)


@pytest.mark.e2e
def test_check_warns_when_debug_is_off_without_them(shared_project: Path) -> None:
    result = manage(shared_project, "check", DEBUG="false", ALLOWED_HOSTS="[]")
    assert result.returncode == 0, output(result)
    assert "(tempest.W005) ALLOWED_HOSTS is empty and DEBUG is off" in output(result)
    assert "(tempest.W006) SITE_URL is empty and DEBUG is off" in output(result)
    quiet = manage(shared_project, "check")  # the generated .env: DEBUG on
    assert "tempest.W005" not in output(quiet) and "tempest.W006" not in output(quiet)


@pytest.mark.e2e
def test_deploy_refuses_the_placeholders_of_env_example(new_project: Callable[..., Path]) -> None:
    root = new_project("shop")
    example = (root / ".env.example").read_text()
    assert "SITE_URL=" in example and "ALLOWED_HOSTS=" in example
    # An operator copies .env.example to .env and goes live without filling it in.
    (root / ".env").write_text(example.replace("# ADMIN_SECRET_KEY=", "ADMIN_SECRET_KEY="))
    result = manage(root, "check", "--deploy")
    assert result.returncode == 1
    for check_id in ["tempest.E101", "auth.E101", "admin.E102", "tempest.E103", "tempest.E104"]:
        assert check_id in output(result), check_id
    assert "SECRET_KEY: (tempest.E101)" in output(result)
    assert "ADMIN_SECRET_KEY: (admin.E102) ADMIN_SECRET_KEY is a placeholder" in output(result)
    assert "ALLOWED_HOSTS has .env.example's placeholder 'change-me.example.com'" in output(result)

    strong = {
        "SECRET_KEY": "Zq8#Yw7$Xv6%Uu5^Tt4&Ss3*Rr2(Qq1)Pp0_",
        "JWT_SECRET": "Zq8#" * 4 + "Yw7$Xv6%" * 3,
        "ADMIN_SECRET_KEY": "Mm9!Nn8@Oo7#Pp6$Qq5%Rr4^Ss3&Tt2*",
        "SITE_URL": "https://shop.acme-store.com",
        "ALLOWED_HOSTS": '["shop.acme-store.com"]',
    }
    filled = check_deploy(root, strong)
    assert filled.returncode == 0, output(filled)


def test_site_url_in_debug_and_without_it() -> None:
    assert site_url(Settings(DEBUG=True)) == "http://127.0.0.1:8000"
    assert (
        site_url(Settings(DEBUG=True, SERVER_HOST="::1", SERVER_PORT=9000)) == "http://[::1]:9000"
    )
    assert site_url(Settings(SITE_URL="https://shop.example.com/store/")) == (
        "https://shop.example.com/store"
    )
    with pytest.raises(ImproperlyConfigured, match="set SITE_URL to the site's public URL"):
        site_url(Settings())
    settings.configure(Settings(SITE_URL="https://shop.example.com"))  # type: ignore[attr-defined]
    try:
        assert site_url() == "https://shop.example.com"
    finally:
        settings.reset()  # type: ignore[attr-defined]
