"""MinIOSettings reads the spec's ``MINIO_DEFAULT_BUCKET`` as well as ``MINIO_BUCKET``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tempest.conf import MinIOSettings


class Storage(MinIOSettings):
    pass


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no .env of the repository
    for name in ("MINIO_BUCKET", "MINIO_DEFAULT_BUCKET"):
        monkeypatch.delenv(name, raising=False)


def test_the_spec_name_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINIO_DEFAULT_BUCKET", "avatars")
    settings = Storage()
    assert settings.MINIO_BUCKET == "avatars"
    assert settings.MINIO_DEFAULT_BUCKET == "avatars"


def test_the_spec_name_is_read_from_dotenv(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("MINIO_DEFAULT_BUCKET=invoices\n", encoding="utf-8")
    assert Storage().MINIO_BUCKET == "invoices"


def test_tempest_name_still_works_and_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINIO_BUCKET", "media")
    assert Storage().MINIO_BUCKET == "media"
    monkeypatch.setenv("MINIO_DEFAULT_BUCKET", "other")
    assert Storage().MINIO_BUCKET == "media"


def test_both_names_work_as_keywords() -> None:
    assert Storage(MINIO_BUCKET="a").MINIO_BUCKET == "a"
    assert Storage(MINIO_DEFAULT_BUCKET="b").MINIO_BUCKET == "b"


def test_the_default_is_empty_and_dumps_under_tempest_name() -> None:
    settings = Storage()
    assert settings.MINIO_BUCKET == ""
    assert "MINIO_BUCKET" in settings.model_dump()
