"""Column values to JSON and back, as dumpdata and loaddata convert them."""

from __future__ import annotations

import enum
import json
import uuid
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Enum,
    Integer,
    Interval,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    Time,
    Uuid,
)

from tempest.core.management.fixtures import from_json_value, to_json_value


class Size(enum.Enum):
    SMALL = "s"
    LARGE = "l"


TABLE = Table(
    "values",
    MetaData(),
    Column("id", Uuid, primary_key=True),
    Column("aware", DateTime(timezone=True)),
    Column("naive", DateTime()),
    Column("day", Date),
    Column("at", Time),
    Column("price", Numeric(10, 2)),
    Column("size", Enum(Size)),
    Column("blob", LargeBinary),
    Column("wait", Interval),
    Column("data", JSON),
    Column("count", Integer),
    Column("flag", Boolean),
    Column("name", String(20)),
)

CASES: list[tuple[str, Any, Any]] = [
    (
        "id",
        uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "12345678-1234-5678-1234-567812345678",
    ),
    (
        "aware",
        datetime(2024, 2, 29, 12, 30, tzinfo=timezone(timedelta(hours=2))),
        "2024-02-29T12:30:00+02:00",
    ),
    ("naive", datetime(2024, 2, 29, 12, 30, 0, 5), "2024-02-29T12:30:00.000005"),
    ("day", date(2024, 2, 29), "2024-02-29"),
    ("at", time(8, 15), "08:15:00"),
    ("price", Decimal("10.50"), "10.50"),
    ("size", Size.LARGE, "l"),
    ("blob", b"\x00\xff", "AP8="),
    ("wait", timedelta(minutes=90), 5400.0),
    ("data", {"a": [1, "ü", None]}, {"a": [1, "ü", None]}),
    ("count", 7, 7),
    ("flag", False, False),
    ("name", "Café ☕", "Café ☕"),
    ("name", None, None),
]


@pytest.mark.parametrize(
    ("name", "value", "shown"),
    CASES,
    ids=[f"{case[0]}-{index}" for index, case in enumerate(CASES)],
)
def test_values_survive_json(name: str, value: Any, shown: Any) -> None:
    column = TABLE.c[name]
    written = to_json_value(value, column)
    assert written == shown
    read = from_json_value(json.loads(json.dumps(written)), column)
    assert read == value and type(read) is type(value)


def test_a_naive_datetime_from_an_aware_column_is_utc() -> None:
    # SQLite returns naive datetimes even for DateTime(timezone=True); tempest stores UTC.
    column = TABLE.c.aware
    assert to_json_value(datetime(2024, 1, 1, 9), column) == "2024-01-01T09:00:00+00:00"
    assert from_json_value("2024-01-01T09:00:00", column) == datetime(2024, 1, 1, 9, tzinfo=UTC)
    assert from_json_value("2024-01-01T09:00:00Z", column) == datetime(2024, 1, 1, 9, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("id", "42", "'42' is not a valid UUID (badly formed hexadecimal UUID string)"),
        ("aware", "yesterday", "'yesterday' is not a valid ISO 8601 datetime"),
        ("price", "ten", "'ten' is not a valid decimal"),
        ("size", "medium", "'medium' is not a valid Size"),
        ("blob", "***", "'***' is not a valid base64 string (Only base64 data is allowed)"),
        ("count", "7", "'7' is not a valid integer"),
        ("count", True, "True is not a valid integer"),
        ("flag", 1, "1 is not a valid boolean"),
        ("name", 5, "5 is not a valid string"),
        ("day", 3, "3 is not a valid ISO 8601 date (expected a string)"),
        ("wait", "1h", "'1h' is not a valid number of seconds"),
    ],
)
def test_values_that_do_not_fit_the_column(name: str, value: Any, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        from_json_value(value, TABLE.c[name])
    assert str(raised.value) == message


def test_values_fixtures_cannot_hold() -> None:
    with pytest.raises(TypeError, match="values of type object cannot be written to a fixture"):
        to_json_value(object())
