"""AlembicHelper on a classic alembic.ini + alembic/ project, on SQLite and on PostgreSQL.

The models live in a module written into tmp_path with a DeclarativeBase of its own, so
tempest's global metadata (where other tests register models) plays no part.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from tempest.db import AlembicHelper, DestructiveMigrationError, MigrationError
from tests.conftest import service_url
from tests.helpers import PYTHON, REPO, clean_env
from tests.services import scratch_database

MODELS = """\
from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
"""
NICKNAME = "    nickname: Mapped[str | None] = mapped_column(String(40), default=None)\n"
REVISION_FILE = re.compile(r"\d{4}_\d\d_\d\d_\d{4}-[0-9a-f]{12}_[a-z_]+\.py")


@dataclass
class Project:
    """A directory with a models module, where alembic.ini and alembic/ are written."""

    root: Path
    url: str
    module: str

    def helper(self) -> AlembicHelper:
        return AlembicHelper(self.root / "alembic.ini", db_url=self.url)

    def init(self) -> AlembicHelper:
        helper = self.helper()
        helper.init(
            directory=self.root / "alembic", metadata_module=self.module, metadata_attr="Base"
        )
        return helper

    def write_models(self, *, nickname: bool = False) -> None:
        """Rewrite the models; the next Alembic command imports the new version."""
        (self.root / f"{self.module}.py").write_text(MODELS + (NICKNAME if nickname else ""))
        sys.modules.pop(self.module, None)
        importlib.invalidate_caches()

    def columns(self, table: str = "user_account") -> set[str] | None:
        """The table's columns in the database, None when it does not exist."""

        def read(connection: Connection) -> set[str] | None:
            inspector = inspect(connection)
            if not inspector.has_table(table):
                return None
            return {column["name"] for column in inspector.get_columns(table)}

        async def run() -> set[str] | None:
            engine = create_async_engine(self.url, poolclass=NullPool)
            try:
                async with engine.connect() as connection:
                    return await connection.run_sync(read)
            finally:
                await engine.dispose()

        return asyncio.run(run())


def _make_project(url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setattr(sys, "dont_write_bytecode", True)  # rewritten models must be re-read
    monkeypatch.syspath_prepend(str(tmp_path))
    project = Project(tmp_path, url, f"helper_models_{uuid.uuid4().hex[:8]}")
    project.write_models()
    return project


@pytest.fixture(params=["sqlite", "postgresql"])
def project(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Project]:
    """A project on SQLite, then on a fresh PostgreSQL database (dropped afterwards)."""
    if request.param == "sqlite":
        made = _make_project(
            f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite3'}", tmp_path, monkeypatch
        )
        yield made
        sys.modules.pop(made.module, None)
        return
    server = service_url("TEMPEST_TEST_DATABASE_URL")
    with scratch_database(server, f"tempest_alembic_helper_test_{os.getpid()}") as url:
        made = _make_project(url, tmp_path, monkeypatch)
        yield made
        sys.modules.pop(made.module, None)


@pytest.fixture
def sqlite_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    """A project on SQLite, for what does not depend on the database."""
    made = _make_project(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite3'}", tmp_path, monkeypatch)
    yield made
    sys.modules.pop(made.module, None)


def test_init_writes_the_environment_and_no_url(sqlite_project: Project) -> None:
    root = sqlite_project.root
    sqlite_project.init()

    assert (root / "alembic" / "env.py").is_file()
    assert (root / "alembic" / "script.py.mako").is_file()
    assert (root / "alembic" / "versions").is_dir()
    ini = (root / "alembic.ini").read_text()
    assert "timezone = UTC" in ini
    assert "script_location = %(here)s/alembic" in ini
    assert "file_template = %%(year)d_%%(month).2d_%%(day).2d_%%(hour).2d%%(minute).2d-" in ini
    assert "sqlalchemy.url" not in ini and "sqlite" not in ini
    env = (root / "alembic" / "env.py").read_text()
    assert f'METADATA_MODULE = "{sqlite_project.module}"' in env
    assert "from tempest.db.migrations.environment import render_item" in env

    before = {path: path.read_bytes() for path in root.rglob("*") if path.is_file()}
    with pytest.raises(MigrationError, match=r"alembic\.ini already exists"):
        sqlite_project.init()
    assert {path: path.read_bytes() for path in root.rglob("*") if path.is_file()} == before

    other = AlembicHelper(root / "other.ini")
    with pytest.raises(MigrationError, match="already exists and is not empty"):
        other.init(directory=root / "alembic", metadata_module=sqlite_project.module)
    assert not (root / "other.ini").exists()


def test_the_migration_workflow(project: Project) -> None:
    helper = project.init()
    assert helper.current() is None and helper.heads() == [] and helper.history() == []

    initial = helper.revision("create users")
    path = Path(initial.path)
    assert REVISION_FILE.fullmatch(path.name) and path.name.endswith("_create_users.py")
    assert "op.create_table('user_account'" in path.read_text()
    assert project.columns() is None  # revision() only writes the file

    helper.upgrade()
    assert project.columns() == {"id", "name"}
    assert helper.current() == initial.revision
    assert helper.heads() == [initial.revision]
    assert helper.check() is True

    project.write_models(nickname=True)
    assert helper.check() is False
    nickname = helper.revision("add nickname")
    assert "add_column" in Path(nickname.path).read_text()
    assert [script.revision for script in helper.history()] == [
        nickname.revision,
        initial.revision,
    ]
    assert helper.heads() == [nickname.revision]
    helper.upgrade()
    assert project.columns() == {"id", "name", "nickname"}
    assert helper.check() is True

    helper.downgrade()
    assert project.columns() == {"id", "name"}
    assert helper.current() == initial.revision

    helper.stamp()  # records the head, runs nothing
    assert helper.current() == nickname.revision
    assert project.columns() == {"id", "name"}
    helper.stamp("base")
    assert helper.current() is None


def test_safe_upgrade_refuses_destructive_revisions(project: Project) -> None:
    project.write_models(nickname=True)
    helper = project.init()
    initial = helper.revision("create users")
    helper.safe_upgrade()  # creating a table loses nothing
    assert project.columns() == {"id", "name", "nickname"}

    project.write_models(nickname=False)
    dropping = helper.revision("drop nickname")
    with pytest.raises(DestructiveMigrationError) as refused:
        helper.safe_upgrade()
    assert refused.value.operations == [f"{dropping.revision}: drop column user_account.nickname"]
    assert "drop column user_account.nickname" in str(refused.value)
    assert "safe_upgrade(allow_destructive=True)" in str(refused.value)
    assert project.columns() == {"id", "name", "nickname"}
    assert helper.current() == initial.revision

    helper.safe_upgrade(allow_destructive=True)
    assert project.columns() == {"id", "name"}
    assert helper.current() == dropping.revision
    helper.safe_upgrade()  # nothing pending
    assert helper.current() == dropping.revision


@pytest.mark.anyio
async def test_upgrade_while_an_event_loop_runs(project: Project) -> None:
    helper = project.init()
    initial = await asyncio.to_thread(helper.revision, "create users")

    await asyncio.to_thread(helper.upgrade)
    assert await asyncio.to_thread(helper.current) == initial.revision
    await asyncio.to_thread(helper.downgrade, "base")
    # Called on the loop's own thread: env.py runs the async engine on a worker thread.
    helper.upgrade()
    assert helper.current() == initial.revision


def test_database_url_from_the_environment(
    sqlite_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    sqlite_project.init()
    helper = AlembicHelper(sqlite_project.root / "alembic.ini")
    with pytest.raises(MigrationError, match=r"^No database URL: pass db_url"):
        helper.upgrade()
    empty = helper.revision("empty", autogenerate=False)  # needs no database
    assert "def upgrade() -> None:\n    pass" in Path(empty.path).read_text()

    monkeypatch.setenv("DATABASE_URL", sqlite_project.url)
    helper.upgrade()
    created = helper.revision("create users")
    helper.upgrade()
    assert helper.current() == created.revision
    assert sqlite_project.columns() == {"id", "name"}


def test_errors(sqlite_project: Project) -> None:
    missing = sqlite_project.helper()
    for call in (missing.upgrade, missing.current, missing.history, missing.check):
        with pytest.raises(MigrationError) as error:
            call()
        assert str(error.value) == (
            f"{sqlite_project.root / 'alembic.ini'} does not exist; "
            "create it with AlembicHelper.init()."
        )

    helper = sqlite_project.init()
    with pytest.raises(MigrationError, match="Can't locate revision identified by 'deadbeef'"):
        helper.upgrade("deadbeef")
    with pytest.raises(MigrationError, match="Can't locate revision identified by 'deadbeef'"):
        helper.safe_upgrade("deadbeef")
    with pytest.raises(MigrationError, match="Can't locate revision identified by 'deadbeef'"):
        helper.stamp("deadbeef")

    helper.revision("create users")
    with pytest.raises(MigrationError, match="Target database is not up to date"):
        helper.check()


def test_import_tempest_db_does_not_import_alembic() -> None:
    code = "import sys, tempest.db; assert 'alembic' not in sys.modules, 'alembic imported'"
    result = subprocess.run(
        [PYTHON, "-c", code], cwd=REPO, capture_output=True, text=True, env=clean_env()
    )
    assert result.returncode == 0, result.stderr
