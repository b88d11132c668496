from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import UUID, uuid4

import pytest
from pydantic import Field, ValidationError

from tempest.schemas import BaseResponseSchema, BaseSchema


class UserCreate(BaseSchema):
    name: str = Field(min_length=1)
    email: str
    password: str


class UserUpdate(BaseSchema):
    name: str | None = None
    nickname: str | None = Field(default=None, alias="nick")


class UserResponse(BaseResponseSchema):
    name: str


@dataclass
class UserRow:
    id: UUID
    is_active: bool
    created_at: datetime
    updated_at: datetime
    name: str


def test_strings_are_stripped() -> None:
    user = UserCreate(name="  Ana ", email=" ana@example.com", password="pw ")
    assert (user.name, user.email, user.password) == ("Ana", "ana@example.com", "pw")


def test_a_blank_string_fails_length_checks_after_stripping() -> None:
    with pytest.raises(ValidationError):
        UserCreate(name="   ", email="a@b.c", password="pw")


class Labels(BaseSchema):
    label: str = Field(min_length=1, max_length=20)
    code: str | None = Field(default=None, min_length=3)
    free: str = ""


@pytest.mark.parametrize("value", ["   ", "\t\n", " a ", "a", " ab ", "a  b", "  abc  ", "a" * 20])
def test_the_json_schema_accepts_what_the_checks_accept(value: str) -> None:
    import re

    properties = Labels.model_json_schema()["properties"]
    label, code = properties["label"], properties["code"]["anyOf"][0]
    for field, schema, minimum in (("label", label, 1), ("code", code, 3)):
        declared = re.search(schema["pattern"], value) is not None and len(value) >= minimum
        try:
            Labels.model_validate({"label": "x", field: value})
        except ValidationError:
            accepted = False
        else:
            accepted = True
        assert declared == accepted, (field, value, schema)
    assert "pattern" not in properties["free"]


def test_a_field_that_keeps_its_spaces_gets_no_pattern() -> None:
    from typing import Annotated

    from pydantic import StringConstraints

    class Secret(BaseSchema):
        password: Annotated[str, StringConstraints(strip_whitespace=False, min_length=1)]

    schema = Secret.model_json_schema()["properties"]["password"]
    assert "pattern" not in schema
    assert Secret(password="   ").password == "   "


def test_fields_are_filled_by_name_or_alias() -> None:
    assert UserUpdate.model_validate({"nick": "a"}).nickname == "a"
    assert UserUpdate.model_validate({"nickname": "b"}).nickname == "b"


def test_to_dict_excludes_and_includes() -> None:
    user = UserCreate(name="Ana", email="ana@example.com", password="s3cr3t")
    assert user.to_dict(exclude=["password"]) == {"name": "Ana", "email": "ana@example.com"}
    assert user.to_dict(exclude=["password"], include={"password_hash": "h"}) == {
        "name": "Ana",
        "email": "ana@example.com",
        "password_hash": "h",
    }


def test_to_dict_drops_none_values_by_default() -> None:
    update = UserUpdate(name="Ana")
    assert update.to_dict() == {"name": "Ana"}
    assert update.to_dict(exclude_none=False) == {"name": "Ana", "nickname": None}


def test_to_dict_keeps_python_types_and_field_names() -> None:
    row_id = uuid4()
    now = datetime(2024, 1, 1, tzinfo=UTC)
    response = UserResponse(id=row_id, is_active=True, created_at=now, updated_at=now, name="A")
    data = response.to_dict()
    assert data["id"] == row_id
    assert data["created_at"] == now
    assert UserUpdate(nick="x").to_dict() == {"nickname": "x"}


def test_to_dict_refuses_a_string_exclude() -> None:
    with pytest.raises(TypeError):
        UserUpdate(name="Ana").to_dict(exclude="name")


def test_response_reads_orm_like_objects() -> None:
    now = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
    row = UserRow(id=uuid4(), is_active=True, created_at=now, updated_at=now, name="Ana")
    response = UserResponse.model_validate(row)
    assert response.id == row.id
    assert response.name == "Ana"


def test_naive_timestamps_from_sqlite_are_serialised_as_utc() -> None:
    naive = datetime(2024, 5, 1, 12, 30)
    response = UserResponse(
        id=uuid4(), is_active=True, created_at=naive, updated_at=naive, name="Ana"
    )
    assert response.created_at.tzinfo is UTC
    assert response.created_at == datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    data = json.loads(response.model_dump_json())
    assert data["created_at"] == "2024-05-01T12:30:00Z"
    assert data["updated_at"] == "2024-05-01T12:30:00Z"


def test_aware_timestamps_are_converted_to_utc() -> None:
    local = datetime(2024, 5, 1, 9, 30, tzinfo=timezone(timedelta(hours=-3)))
    response = UserResponse(
        id=uuid4(),
        is_active=False,
        created_at=local,
        updated_at="2024-05-01T14:30:00+02:00",
        name="A",
    )
    assert response.created_at == datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    assert response.created_at.tzinfo is UTC
    assert json.loads(response.model_dump_json())["updated_at"] == "2024-05-01T12:30:00Z"


@pytest.mark.parametrize(
    "changes",
    [
        {"id": "not-a-uuid"},
        {"created_at": "yesterday"},
        {"updated_at": None},
        {"is_active": "perhaps"},
    ],
)
def test_response_rejects_bad_values(changes: dict[str, Any]) -> None:
    now = datetime(2024, 1, 1, tzinfo=UTC)
    data = {"id": uuid4(), "is_active": True, "created_at": now, "updated_at": now, "name": "A"}
    with pytest.raises(ValidationError):
        UserResponse.model_validate({**data, **changes})


def test_response_requires_the_base_fields() -> None:
    with pytest.raises(ValidationError) as caught:
        UserResponse.model_validate({"name": "Ana"})
    missing = {error["loc"][0] for error in caught.value.errors()}
    assert missing == {"id", "is_active", "created_at", "updated_at"}
