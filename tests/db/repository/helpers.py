"""Helpers of the repository tests."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from tempest.exceptions import AppException


class Statements(list[str]):
    """SQL statements sent while capturing."""

    def matching(self, fragment: str) -> list[str]:
        return [sql for sql in self if fragment.lower() in sql.lower()]


def backend(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def assert_no_sql(error: AppException) -> None:
    """The error's message and details hold no SQL statement and no driver message."""
    text = f"{error} {error.message} {error.details!r} {error.to_dict()!r}"
    for fragment in ("INSERT", "UPDATE ", "SELECT", "UNIQUE constraint", "duplicate key", "[SQL"):
        assert fragment not in text, text
