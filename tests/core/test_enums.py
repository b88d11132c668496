from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from pydantic import BaseModel, ValidationError

from tempest.core.enums import BaseIntEnum, BaseStrEnum


class OrderStatus(BaseStrEnum):
    PENDING = "pending"
    PAID = "paid"
    NOT_SHIPPED = "not_shipped"


class Priority(BaseIntEnum):
    LOW = 0
    NORMAL = 1
    HIGH = 2


class Colour(BaseStrEnum):
    PAID = "paid"  # same value as OrderStatus.PAID
    BLUE = "blue"


class Translated(BaseStrEnum):
    YES = "y"

    @property
    def label(self) -> str:
        return "Sim"


@pytest.fixture(autouse=True)
def no_deprecation_warnings() -> Iterator[None]:
    # Python 3.11's EnumType.__contains__ warns before raising on raw values.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def test_members_are_their_values() -> None:
    pending: str = OrderStatus.PENDING
    assert pending == "pending"
    assert isinstance(OrderStatus.PAID, str)
    assert str(OrderStatus.PAID) == "paid"
    assert f"{OrderStatus.PAID}" == "paid"
    assert Priority.NORMAL + 1 == Priority.HIGH
    assert isinstance(Priority.HIGH, int)
    assert Priority.HIGH > Priority.LOW


def test_lookup_by_value_returns_the_member() -> None:
    assert OrderStatus("paid") is OrderStatus.PAID
    assert Priority(2) is Priority.HIGH


def test_lookup_of_an_unknown_value_raises() -> None:
    with pytest.raises(ValueError):
        OrderStatus("refunded")
    with pytest.raises(ValueError):
        Priority(7)


@pytest.mark.parametrize("value", ["paid", OrderStatus.PAID, "pending", Colour.PAID])
def test_membership_by_value_and_member(value: object) -> None:
    assert value in OrderStatus


@pytest.mark.parametrize("value", [1, Priority.NORMAL, True, 2])
def test_int_membership_follows_lookup(value: object) -> None:
    assert value in Priority


@pytest.mark.parametrize(
    "value",
    ["refunded", "PAID", "", None, 1, b"paid", ["paid"], {"paid": 1}, {"paid"}, Colour.BLUE],
)
def test_unknown_and_unhashable_values_are_not_members(value: object) -> None:
    assert value not in OrderStatus


@pytest.mark.parametrize("value", [7, -1, "1", None, [1], {}, 1.5, Colour.BLUE])
def test_unknown_and_unhashable_values_are_not_int_members(value: object) -> None:
    assert value not in Priority


def test_the_base_classes_have_no_members() -> None:
    assert "paid" not in BaseStrEnum
    assert 1 not in BaseIntEnum


def test_values_and_choices_keep_definition_order() -> None:
    assert OrderStatus.values() == ["pending", "paid", "not_shipped"]
    assert OrderStatus.choices() == [
        ("pending", "Pending"),
        ("paid", "Paid"),
        ("not_shipped", "Not shipped"),
    ]
    assert Priority.values() == [0, 1, 2]
    assert Priority.choices() == [(0, "Low"), (1, "Normal"), (2, "High")]


def test_labels_can_be_overridden() -> None:
    assert Translated.YES.label == "Sim"
    assert Translated.choices() == [("y", "Sim")]


class Order(BaseModel):
    status: OrderStatus
    priority: Priority = Priority.NORMAL


def test_pydantic_reads_and_writes_the_values() -> None:
    order = Order.model_validate({"status": "paid", "priority": 2})
    assert order.status is OrderStatus.PAID
    assert order.priority is Priority.HIGH
    assert json.loads(order.model_dump_json()) == {"status": "paid", "priority": 2}
    assert json.dumps({"status": OrderStatus.PAID}) == '{"status": "paid"}'


@pytest.mark.parametrize("data", [{"status": "refunded"}, {"status": "paid", "priority": 9}])
def test_pydantic_rejects_unknown_values(data: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Order.model_validate(data)


def test_pydantic_schema_lists_the_values() -> None:
    schema = Order.model_json_schema()
    assert schema["$defs"]["OrderStatus"]["enum"] == ["pending", "paid", "not_shipped"]
    assert schema["$defs"]["Priority"]["enum"] == [0, 1, 2]


def test_sqlalchemy_enum_columns_round_trip() -> None:
    metadata = sa.MetaData()
    orders = sa.Table(
        "orders",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("status", sa.Enum(OrderStatus)),
        sa.Column(
            "status_value",
            sa.Enum(OrderStatus, values_callable=lambda enum_class: enum_class.values()),
        ),
        sa.Column("priority", sa.Enum(Priority)),
    )
    engine = sa.create_engine("sqlite://")
    try:
        metadata.create_all(engine)
        with engine.begin() as connection:
            connection.execute(
                orders.insert(),
                {"status": "paid", "status_value": "not_shipped", "priority": Priority.HIGH},
            )
            row = connection.execute(sa.select(orders)).one()
            stored = connection.execute(sa.text("SELECT status_value FROM orders")).scalar_one()
    finally:
        engine.dispose()
    assert row.status is OrderStatus.PAID
    assert row.status_value is OrderStatus.NOT_SHIPPED
    assert row.priority is Priority.HIGH
    assert stored == "not_shipped"
