from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from tempest.utils import to_utc, utcnow


def test_utcnow_is_aware_utc_and_current() -> None:
    before = datetime.now(UTC)
    now = utcnow()
    after = datetime.now(UTC)
    assert now.tzinfo is UTC
    assert before <= now <= after


def test_a_naive_value_is_tagged_not_converted() -> None:
    naive = datetime(2024, 5, 1, 12, 30, 15, 123456)
    result = to_utc(naive)
    assert result.tzinfo is UTC
    assert result.replace(tzinfo=None) == naive


def test_an_aware_value_is_converted() -> None:
    sao_paulo = datetime(2024, 5, 1, 9, 0, tzinfo=timezone(timedelta(hours=-3)))
    result = to_utc(sao_paulo)
    assert result == datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert result.tzinfo is UTC


def test_a_utc_value_is_unchanged() -> None:
    value = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert to_utc(value) == value
    assert to_utc(value).tzinfo is UTC


@pytest.mark.parametrize("value", [date(2024, 5, 1), "2024-05-01T12:00:00", None, 1714564800])
def test_anything_but_a_datetime_is_refused(value: object) -> None:
    with pytest.raises(TypeError, match="expects a datetime"):
        to_utc(value)  # type: ignore[arg-type]


def test_importing_tempest_utils_stays_light() -> None:
    import subprocess
    import sys

    code = (
        "import sys, tempest.utils;"
        "print(sorted({'pydantic', 'sqlalchemy', 'fastapi', 'starlette'} & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
