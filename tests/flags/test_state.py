"""A flag's value: names, coerce_flag, percentages, and rollout buckets that never move."""

from __future__ import annotations

import hashlib
import math

import pytest

from tempest.flags import FlagState, InvalidFlagError, bucket_of, coerce_flag
from tempest.flags.state import BUCKETS, check_flag_name, parse_percentage


@pytest.mark.parametrize(
    "name", ["new-checkout", "beta_search", "v2.api", "a", "9lives", "x" * 100]
)
def test_valid_names(name: str) -> None:
    assert check_flag_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "new checkout",  # a space
        " new-checkout",
        "new-checkout ",
        "New-Checkout",  # upper case
        "",
        "-leading-dash",
        "flags:*",  # Redis separators and wildcards
        "a/b",
        "x" * 101,
        None,
        42,
    ],
)
def test_invalid_names_say_what_to_write(name: object) -> None:
    with pytest.raises(InvalidFlagError, match=r"invalid flag name .*lower-case letters"):
        check_flag_name(name)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, FlagState(True)),
        (False, FlagState(False)),
        ("on", FlagState(True)),
        ("TRUE", FlagState(True)),
        (" yes ", FlagState(True)),
        ("1", FlagState(True)),
        ("enabled", FlagState(True)),
        ("off", FlagState(False)),
        ("false", FlagState(False)),
        ("0", FlagState(False)),
        ("no", FlagState(False)),
        ("25%", FlagState(True, 25)),
        ("12.5 %", FlagState(True, 12.5)),
        (25, FlagState(True, 25)),
        (12.5, FlagState(True, 12.5)),
        (0, FlagState(True, 0)),
        ({"enabled": True, "percentage": 40}, FlagState(True, 40)),
        ({"enabled": False}, FlagState(False)),
        (FlagState(True, 3), FlagState(True, 3)),
    ],
)
def test_coerce_flag_reads_the_usual_spellings(value: object, expected: FlagState) -> None:
    assert coerce_flag(value) == expected


@pytest.mark.parametrize(
    "value",
    ["maybe", "25", "", None, [True], {"enabled": "yes"}, {"enabled": True, "extra": 1}],
)
def test_coerce_flag_refuses_the_rest_and_lists_what_is_accepted(value: object) -> None:
    with pytest.raises(InvalidFlagError, match=r"cannot read .* as a flag: write on/off"):
        coerce_flag(value)


@pytest.mark.parametrize(
    "value", [150, -1, 100.01, "101%", "-5%", math.nan, math.inf, {"percentage": 200}]
)
def test_percentages_outside_0_to_100_are_refused(value: object) -> None:
    with pytest.raises(InvalidFlagError, match="outside 0 to 100"):
        coerce_flag(value)


@pytest.mark.parametrize("value", ["abc", True, None, "25%%"])
def test_a_percentage_is_a_number(value: object) -> None:
    with pytest.raises(InvalidFlagError, match="a percentage is a number from 0 to 100"):
        parse_percentage(value)


def test_the_bucket_is_sha256_of_name_and_subject_and_never_changes() -> None:
    # Pinned: a change here would move subjects in and out of every running rollout.
    pinned = {"user-1": 2648, "user-2": 1359, "42": 1600, "ana@example.com": 4617}
    for subject, bucket in pinned.items():
        assert bucket_of("new-checkout", subject) == bucket
        digest = hashlib.sha256(f"new-checkout:{subject}".encode()).digest()
        assert int.from_bytes(digest[:8], "big") % BUCKETS == bucket
    assert bucket_of("new-checkout", 42) == 1600  # str(subject) is hashed


def test_a_25_percent_rollout_is_close_to_25_percent_and_widening_keeps_the_first() -> None:
    quarter, half = FlagState(True, 25), FlagState(True, 50)
    subjects = [f"user-{index}" for index in range(10_000)]
    in_quarter = {s for s in subjects if quarter.evaluate("search-v2", s)}
    in_half = {s for s in subjects if half.evaluate("search-v2", s)}
    assert 2350 <= len(in_quarter) <= 2650
    assert 4850 <= len(in_half) <= 5150
    assert in_quarter <= in_half  # raising the percentage never takes anyone out
    # Another flag buckets the same subjects differently (not the same 25% every time).
    other = {s for s in subjects if quarter.evaluate("other-flag", s)}
    assert len(other & in_quarter) < 0.4 * len(in_quarter)


def test_without_a_subject_only_a_full_rollout_is_on() -> None:
    assert FlagState(True).evaluate("f") is True
    assert FlagState(True, 99.99).evaluate("f") is False
    assert FlagState(False).evaluate("f", "user-1") is False
    assert FlagState(True, 0).evaluate("f", "user-1") is False


def test_describe_and_storage_form() -> None:
    assert FlagState(True).describe() == "on"
    assert FlagState(False, 30).describe() == "off"
    assert FlagState(True, 12.5).describe() == "12.5%"
    assert FlagState(True, 25).to_dict() == {"enabled": True, "percentage": 25.0}
    assert coerce_flag(FlagState(True, 25).to_dict()) == FlagState(True, 25)
    assert FlagState(True, 25).is_rollout and not FlagState(True).is_rollout
    assert repr(FlagState(True, 25)) == "FlagState(enabled=True, percentage=25)"
