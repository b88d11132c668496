"""secrets rotate: a new project's .env rotated by real manage.py subprocesses, served.

The acceptance scenario signs in on a served project, rotates twice, serves again (old
access and refresh tokens still work during the grace period), then moves the grace
date into the past and serves a third time (they are refused). The bad-input cases each
work on a copy of .env passed with --env, and check that nothing changed.
"""

from __future__ import annotations

import json
import re
import stat
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tempest.conf.rotation import PreviousSecret, active_secrets
from tempest.core.management.secret_rotation import apply, env_values
from tempest.exceptions import InvalidTokenException
from tempest.utils.jwt import JWTUtils
from tests.helpers import one_line_error, serve_project
from tests.warm import warm_manage, warm_tempest

EMAIL = "ops@example.com"
PASSWORD = "ops-password-9"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("secrets")
    made = warm_tempest(root, "startproject", "shop")
    assert made.returncode == 0, made.stderr
    return root / "shop"


@pytest.fixture
def env_copy(project: Path, tmp_path: Path) -> Path:
    """A copy of the project's .env as startproject wrote it (mode 0600), to rotate."""
    copy = tmp_path / "prod.env"
    lines = (project / ".env").read_text().splitlines(keepends=True)
    copy.write_text("".join(line for line in lines if "_FALLBACKS=" not in line))
    copy.chmod(0o600)
    return copy


def call(method: str, url: str, body: dict[str, str] | None = None, token: str = "") -> int:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status: int = response.status
            return status
    except urllib.error.HTTPError as error:
        return error.code


def login(base: str) -> dict[str, str]:
    request = urllib.request.Request(
        f"{base}/api/auth/login",
        data=json.dumps({"email": EMAIL, "password": PASSWORD}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        pair: dict[str, str] = json.loads(response.read())
    return pair


def backups(folder: Path, name: str) -> list[Path]:
    return sorted(folder.glob(f"{name}.bak.*"))


@pytest.mark.e2e
def test_rotating_twice_keeps_old_tokens_for_the_grace_period_only(project: Path) -> None:
    migrated = warm_manage(project, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    admin = warm_manage(
        project,
        "createsuperuser",
        "--noinput",
        TEMPEST_SUPERUSER_EMAIL=EMAIL,
        TEMPEST_SUPERUSER_PASSWORD=PASSWORD,
    )
    assert admin.returncode == 0, admin.stderr
    env = project / ".env"
    env.chmod(0o640)
    with serve_project(project, "serve") as (base, _):
        first, second = login(base), login(base)

    for _ in range(2):
        rotated = warm_manage(project, "secrets", "rotate")
        assert rotated.returncode == 0, rotated.stderr
    assert "Until " in rotated.stdout and "access tokens (JWT_SECRET_FALLBACKS)" in rotated.stdout
    assert "admin sign-ins (ADMIN_SECRET_KEY)" in rotated.stdout
    saved = backups(project, ".env")
    assert len(saved) == 2
    assert all(stat.S_IMODE(path.stat().st_mode) == 0o600 for path in saved)
    assert stat.S_IMODE(env.stat().st_mode) == 0o640
    values = env_values(env.read_text())
    # Both previous JWT secrets verify, the newest first rotation's included.
    assert len(json.loads(values["JWT_SECRET_FALLBACKS"])) == 2
    assert len(json.loads(values["SECRET_KEY_FALLBACKS"])) == 2
    assert env_values(saved[0].read_text())["JWT_SECRET"] in values["JWT_SECRET_FALLBACKS"]

    with serve_project(project, "serve") as (base, _):  # the app starts on the new values
        assert call("GET", f"{base}/api/auth/me", token=first["access_token"]) == 200
        body = {"refresh_token": first["refresh_token"]}
        assert call("POST", f"{base}/api/auth/refresh", body) == 200
        assert login(base)["access_token"]

    past = re.sub(r'"until":"[^"]+"', '"until":"2000-01-01T00:00:00Z"', env.read_text())
    env.write_text(past)
    with serve_project(project, "serve") as (base, _):
        assert call("GET", f"{base}/api/auth/me", token=second["access_token"]) == 401
        body = {"refresh_token": second["refresh_token"]}
        assert call("POST", f"{base}/api/auth/refresh", body) == 401
        assert login(base)["access_token"]


@pytest.mark.e2e
def test_too_short_a_length_is_refused(project: Path, env_copy: Path) -> None:
    before = env_copy.read_text()
    result = warm_manage(project, "secrets", "rotate", "--env", str(env_copy), "--length", "8")
    assert result.returncode == 2
    assert "--length 8 is too short" in one_line_error(result)
    assert env_copy.read_text() == before
    assert not backups(env_copy.parent, env_copy.name)


@pytest.mark.e2e
def test_a_missing_env_file_is_one_line(project: Path, tmp_path: Path) -> None:
    missing = tmp_path / "missing.env"
    result = warm_manage(project, "secrets", "rotate", "--env", str(missing))
    assert result.returncode == 1
    assert one_line_error(result).startswith(f"Error: No {missing}: nothing was rotated.")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.e2e
def test_a_read_only_env_file_is_left_alone(project: Path, env_copy: Path) -> None:
    env_copy.chmod(0o444)
    before = env_copy.read_text()
    result = warm_manage(project, "secrets", "rotate", "--env", str(env_copy))
    assert result.returncode == 1
    assert "is read-only (mode 0444): nothing was rotated" in one_line_error(result)
    assert env_copy.read_text() == before
    assert sorted(path.name for path in env_copy.parent.iterdir()) == ["prod.env"]


@pytest.mark.e2e
def test_bad_keys_are_refused(project: Path, env_copy: Path) -> None:
    before = env_copy.read_text()
    for keys in ("jwt_secret", "JWT-SECRET", ",", "JWT_SECRET_FALLBACKS"):
        result = warm_manage(project, "secrets", "rotate", "--env", str(env_copy), "--keys", keys)
        assert result.returncode == 2, keys
        one_line_error(result)
    assert env_copy.read_text() == before


@pytest.mark.e2e
def test_broken_fallbacks_in_the_file_are_one_line(project: Path, env_copy: Path) -> None:
    env_copy.write_text(env_copy.read_text() + "JWT_SECRET_FALLBACKS=[oops\n")
    before = env_copy.read_text()
    result = warm_manage(project, "secrets", "rotate", "--env", str(env_copy))
    assert "JWT_SECRET_FALLBACKS in the .env file is not a JSON list" in one_line_error(result)
    assert env_copy.read_text() == before


@pytest.mark.e2e
def test_print_writes_nothing_and_no_backup_skips_the_copy(project: Path, env_copy: Path) -> None:
    before = env_copy.read_text()
    printed = warm_manage(
        project, "secrets", "rotate", "--env", str(env_copy), "--print", "--keys", "API_SECRET"
    )
    assert printed.returncode == 0, printed.stderr
    line = printed.stdout.strip()
    assert re.fullmatch(r"API_SECRET=[A-Za-z0-9_-]{64}", line), printed.stdout
    assert env_copy.read_text() == before

    rotated = warm_manage(
        project,
        "secrets",
        "rotate",
        "--env",
        str(env_copy),
        "--keys",
        "JWT_SECRET,API_SECRET",
        "--length",
        "40",
        "--grace-days",
        "0",
        "--no-backup",
    )
    assert rotated.returncode == 0, rotated.stderr
    assert not backups(env_copy.parent, env_copy.name)
    old, new = env_values(before), env_values(env_copy.read_text())
    assert len(new["JWT_SECRET"]) == 40 and new["JWT_SECRET"] != old["JWT_SECRET"]
    assert len(new["API_SECRET"]) == 40
    assert new["SECRET_KEY"] == old["SECRET_KEY"]
    assert "JWT_SECRET_FALLBACKS" not in new  # --grace-days 0 keeps nothing
    assert "Ended now: access tokens (JWT_SECRET)." in rotated.stdout


def test_apply_keeps_comments_order_and_export() -> None:
    text = "# top\nexport JWT_SECRET='old'\nDEBUG=true\n\n# SECRET_KEY=commented\nSECRET_KEY=a"
    assert apply(text, {"SECRET_KEY": "n1", "JWT_SECRET": "n2", "NEW": "n3"}) == (
        "# top\nexport JWT_SECRET=n2\nDEBUG=true\n\n# SECRET_KEY=commented\nSECRET_KEY=n1\nNEW=n3\n"
    )


def test_jwt_fallback_secrets_verify_until_their_date() -> None:
    old, new = "o" * 32, "n" * 32
    token = JWTUtils(old).encode({"sub": "1"})
    later = datetime.now(UTC) + timedelta(days=1)
    assert JWTUtils(new, fallback_secrets=[(old, later)]).decode(token)["sub"] == "1"
    earlier = datetime.now(UTC) - timedelta(seconds=1)
    with pytest.raises(InvalidTokenException):
        JWTUtils(new, fallback_secrets=[(old, earlier)]).decode(token)
    with pytest.raises(InvalidTokenException):
        JWTUtils(new).decode(token)
    # Fallbacks only verify: what the instance signs uses the current secret.
    signed = JWTUtils(new, fallback_secrets=[(old, later)]).encode({"sub": "2"})
    with pytest.raises(InvalidTokenException):
        JWTUtils(old).decode(signed)
    with pytest.raises(ValueError, match="at least 32"):
        JWTUtils(new, fallback_secrets=[("short", later)])


def test_previous_secrets_expire() -> None:
    past = PreviousSecret(secret="a", until=datetime(2000, 1, 1))
    assert past.until.tzinfo is not None
    future = PreviousSecret(secret="b", until=datetime.now(UTC) + timedelta(hours=1))
    assert active_secrets([past, future]) == [("b", future.until)]
