from __future__ import annotations

from types import MappingProxyType
from typing import Any

import pytest

from tempest.utils import modify_dict


def test_without_arguments_it_returns_a_copy() -> None:
    data = {"a": 1}
    result = modify_dict(data)
    assert result == data
    assert result is not data


def test_exclude_drops_keys_and_ignores_missing_ones() -> None:
    data = {"email": "ana@example.com", "password": "s3cr3t", "name": "Ana"}
    assert modify_dict(data, exclude=["password", "missing"]) == {
        "email": "ana@example.com",
        "name": "Ana",
    }


def test_include_adds_and_overrides() -> None:
    data = {"name": "Ana", "role": "member"}
    assert modify_dict(data, include={"role": "admin", "age": 30}) == {
        "name": "Ana",
        "role": "admin",
        "age": 30,
    }


def test_include_wins_over_exclude() -> None:
    assert modify_dict({"a": 1, "b": 2}, exclude=["a"], include={"a": 9}) == {"b": 2, "a": 9}


def test_the_spec_example_swaps_password_for_its_hash() -> None:
    payload = {"email": "ana@example.com", "password": "s3cr3t"}
    row = modify_dict(payload, exclude=["password"], include={"password_hash": "h"})
    assert row == {"email": "ana@example.com", "password_hash": "h"}


def test_the_source_is_never_mutated() -> None:
    data = {"a": 1, "b": 2}
    include = {"c": 3}
    modify_dict(data, exclude=["a"], include=include)
    assert data == {"a": 1, "b": 2}
    assert include == {"c": 3}


def test_any_mapping_and_iterable_are_accepted() -> None:
    data = MappingProxyType({"a": 1, "b": 2, "c": 3})
    result = modify_dict(data, exclude=(key for key in ["a", "b"]), include=MappingProxyType({}))
    assert result == {"c": 3}
    assert type(result) is dict


@pytest.mark.parametrize("data", [None, [("a", 1)], "a=1"])
def test_data_must_be_a_mapping(data: Any) -> None:
    with pytest.raises(TypeError, match="data must be a mapping"):
        modify_dict(data)


@pytest.mark.parametrize("exclude", ["password", b"password"])
def test_exclude_must_not_be_a_string(exclude: Any) -> None:
    with pytest.raises(TypeError, match="not a string"):
        modify_dict({"password": 1, "p": 2}, exclude=exclude)


@pytest.mark.parametrize("include", [["a"], "a", 1])
def test_include_must_be_a_mapping(include: Any) -> None:
    with pytest.raises(TypeError, match="include must be a mapping"):
        modify_dict({"a": 1}, include=include)
