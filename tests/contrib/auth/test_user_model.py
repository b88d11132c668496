"""BaseUserModel, the token bases and the factories, on SQLite and PostgreSQL; and a
project that brings its own user model (AUTH_USER_MODEL)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import String, inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from tempest.contrib.auth.base import (
    BaseUserModel,
    MFAMixin,
    UserTokenPurpose,
    make_user_recovery_code_model,
    make_user_refresh_token_model,
    make_user_token_model,
)
from tempest.db import AsyncDatabaseManager, atomic
from tempest.utils import utcnow
from tests.db.test_migration_commands import ok


class Member(BaseUserModel, MFAMixin):
    __tablename__ = "test_member"
    nickname: Mapped[str | None] = mapped_column(String(40), default=None)


MemberToken = make_user_token_model(Member)
MemberRecoveryCode = make_user_recovery_code_model(Member)
MemberRefreshToken = make_user_refresh_token_model(Member)


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    from tempest.contrib.auth import base

    monkeypatch.setattr(base, "password_utils", lambda: base._password_utils(4))


def test_the_factories_name_tables_after_the_user_model() -> None:
    assert MemberToken.__name__ == "MemberToken"
    assert MemberToken.__module__ == __name__  # the registry counts it in the caller's app
    assert {table.__tablename__ for table in (MemberToken, MemberRecoveryCode)} == {
        "test_member_token",
        "test_member_recovery_code",
    }
    [foreign_key] = MemberRefreshToken.__table__.c.user_id.foreign_keys
    assert foreign_key.target_fullname == "test_member.id"
    assert foreign_key.ondelete == "CASCADE"


def test_tokens_expire_and_are_used_once() -> None:
    token = MemberToken(expires_at=utcnow() + timedelta(minutes=1))
    assert token.is_usable and not token.is_expired
    token.used_at = utcnow()
    assert not token.is_usable
    expired = MemberToken(expires_at=(utcnow() - timedelta(seconds=1)).replace(tzinfo=None))
    assert expired.is_expired and not expired.is_usable  # naive values are UTC (SQLite)


def test_passwords_and_emails() -> None:
    member = Member(email="  Ana@Example.COM ")
    assert member.email == "ana@example.com"
    assert not member.has_usable_password() and not member.check_password("")
    member.set_password("correct horse")
    assert member.hashed_password.startswith("$2")
    assert member.check_password("correct horse") and not member.check_password("wrong horse")
    member.set_unusable_password()
    assert not member.check_password("correct horse")
    with pytest.raises(ValueError):
        member.set_password("")


@pytest.mark.anyio
async def test_users_and_their_tokens_are_stored(database: AsyncDatabaseManager) -> None:
    async with database.request_session() as session:
        async with atomic(session):
            member = Member(email="Bea@example.com")
            member.set_password("secret-pass-1")
            session.add(member)
            await session.flush()
            token = MemberToken(
                user_id=member.id,
                purpose=UserTokenPurpose.PASSWORD_RESET,
                token_hash="h" * 64,
                expires_at=utcnow() + timedelta(minutes=5),
            )
            session.add(token)
        assert token.is_usable

    async with database.request_session() as session:
        found = await session.scalar(select(Member).where(Member.email == "bea@example.com"))
        assert found is not None and found.check_password("secret-pass-1")
        assert found.is_admin is False and found.mfa_enabled is False
        stored = await session.scalar(select(MemberToken))
        assert stored is not None and stored.is_usable  # read back (naive on SQLite)
        assert inspect(stored).persistent and stored.user_id == found.id
        with pytest.raises(IntegrityError):  # emails are unique, compared normalized
            async with atomic(session):
                session.add(Member(email="BEA@EXAMPLE.COM"))


ACCOUNTS_MODELS = '''"""The project's own user model."""

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column
from tempest.contrib.auth.base import (
    BaseUserModel,
    MFAMixin,
    make_user_recovery_code_model,
    make_user_refresh_token_model,
    make_user_token_model,
)


class User(BaseUserModel, MFAMixin):
    __tablename__ = "account_user"
    nickname: Mapped[str | None] = mapped_column(String(40), default=None)


UserToken = make_user_token_model(User)
UserRecoveryCode = make_user_recovery_code_model(User)
UserRefreshToken = make_user_refresh_token_model(User)
'''

WHO = (
    "from sqlalchemy import func, select\n"
    "from tempest.contrib.auth import get_user_model\n"
    "User = get_user_model()\n"
    "async with database.request_session() as s:\n"
    "    print(User.__module__, User.__tablename__, "
    "await s.scalar(select(func.count()).select_from(User)))"
)


@pytest.mark.e2e
def test_a_project_with_its_own_user_model(new_project: Callable[..., Path]) -> None:
    from tests.helpers import PYTHON, clean_env, manage

    root = new_project("shop")
    ok(manage(root, "startapp", "accounts", "--empty"))
    (root / "accounts" / "models.py").write_text(ACCOUNTS_MODELS)

    def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [PYTHON, "manage.py", *args],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=60,
            env=clean_env(**{"AUTH_USER_MODEL": "accounts.User", **env}),
        )

    made = ok(run("makemigrations"))
    assert "Migrations for 'accounts':" in made and "create table account_user_token" in made
    assert "'auth'" not in made
    ok(run("migrate"))
    assert ok(run("showmigrations")).splitlines()[0] == "accounts"  # auth's tables are not made
    ok(
        run(
            "createsuperuser",
            "--noinput",
            TEMPEST_SUPERUSER_EMAIL="root@example.com",
            TEMPEST_SUPERUSER_PASSWORD="root-password-1",
        )
    )
    assert ok(run("shell", "-c", WHO)).strip() == "accounts.models account_user 1"

    broken = run("check", AUTH_USER_MODEL="accounts.Person")
    assert broken.returncode == 1
    assert "auth.E001" in broken.stdout + broken.stderr
    assert "app 'accounts' has no such model (its models: User, UserRecoveryCode," in (
        broken.stdout + broken.stderr
    )
    malformed = run("check", AUTH_USER_MODEL="shop")
    assert "AUTH_USER_MODEL must be '<app label>.<class name>', not 'shop'" in malformed.stderr


@pytest.mark.e2e
def test_check_deploy_refuses_a_weak_jwt_secret(new_project: Callable[..., Path]) -> None:
    from tests.helpers import manage

    root = new_project("shop")
    secret_key = "k" * 10 + "x9Q!z@8#w$7%v^6&u*5(t)4_s+3"
    weak = manage(
        root, "check", "--deploy", SECRET_KEY=secret_key, DEBUG="false", JWT_SECRET="secret"
    )
    assert weak.returncode == 1 and "auth.E101" in weak.stdout + weak.stderr
    good = manage(
        root,
        "check",
        "--deploy",
        SECRET_KEY=secret_key,
        DEBUG="false",
        JWT_SECRET="Zq8#" * 4 + "Yw7$Xv6%" * 3,
    )
    assert "auth.E101" not in good.stdout + good.stderr
