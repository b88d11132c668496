from __future__ import annotations

import base64
import inspect
import json
import re
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, cast
from uuid import UUID

import pytest

from tempest.conf import LazySettings, Settings, settings
from tempest.core.enums import BaseIntEnum, BaseStrEnum
from tempest.exceptions import ValidationException
from tempest.schemas import decode_cursor, encode_cursor
from tempest.schemas.cursor import MAX_CURSOR_LENGTH

SECRET = "a-long-random-test-secret"
ROW_ID = UUID("0b5e1f3e-8a1c-4d6f-9a57-2f3c1e2d4b6a")


class Status(BaseStrEnum):
    PAID = "paid"


class Level(BaseIntEnum):
    HIGH = 2


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def assert_invalid(cursor: Any, secret: str | bytes | None = "") -> None:
    with pytest.raises(ValidationException) as caught:
        decode_cursor(cursor, secret=secret)
    error = caught.value
    assert error.status_code == 422
    assert error.code == "INVALID_CURSOR"
    assert error.to_dict() == {"detail": "Invalid cursor", "code": "INVALID_CURSOR", "details": {}}


@pytest.fixture
def proxy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LazySettings]:
    """The global settings proxy, restored after the test."""
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.delenv("SECRET_KEY", raising=False)
    lazy = cast(LazySettings, settings)
    saved = lazy._wrapped
    lazy.reset()
    yield lazy
    if saved is None:
        lazy.reset()
    else:
        lazy.configure(saved)


# -- round trips --------------------------------------------------------------------------

VALUES = [
    pytest.param(datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=UTC), id="datetime-utc"),
    pytest.param(
        datetime(2024, 5, 1, 9, 30, tzinfo=timezone(timedelta(hours=-3))), id="datetime-offset"
    ),
    pytest.param(datetime(2024, 5, 1, 12, 30, 15, 5), id="datetime-naive"),
    pytest.param(date(2024, 2, 29), id="date"),
    pytest.param(time(23, 59, 59, 999999), id="time"),
    pytest.param(ROW_ID, id="uuid"),
    pytest.param(Decimal("10.50"), id="decimal"),
    pytest.param(Decimal("-1E+3"), id="decimal-exponent"),
    pytest.param("ação ✓", id="str"),
    pytest.param("", id="empty-str"),
    pytest.param(42, id="int"),
    pytest.param(2**70, id="big-int"),
    pytest.param(0.1, id="float"),
    pytest.param(True, id="bool"),
    pytest.param(None, id="none"),
    pytest.param([1, "a", ROW_ID, [date(2024, 1, 1)]], id="list"),
    pytest.param({"nested": {"at": date(2024, 1, 1), "$other": 1}}, id="dict"),
]


@pytest.mark.parametrize("value", VALUES)
@pytest.mark.parametrize("secret", ["", SECRET])
def test_values_round_trip_exactly(value: Any, secret: str) -> None:
    decoded = decode_cursor(encode_cursor({"v": value, "id": ROW_ID}, secret=secret), secret=secret)
    assert decoded == {"v": value, "id": ROW_ID}
    assert type(decoded["v"]) is type(value)
    if isinstance(value, datetime):
        assert decoded["v"].utcoffset() == value.utcoffset()
    if isinstance(value, Decimal):
        assert str(decoded["v"]) == str(value)


def test_tuples_come_back_as_lists() -> None:
    assert decode_cursor(encode_cursor({"v": (1, 2)}, secret=""), secret="") == {"v": [1, 2]}


def test_enum_members_are_written_as_their_values() -> None:
    decoded = decode_cursor(
        encode_cursor({"s": Status.PAID, "l": Level.HIGH}, secret=""), secret=""
    )
    assert decoded == {"s": "paid", "l": 2}


def test_the_encoding_is_documented_typed_json() -> None:
    cursor = encode_cursor(
        {"v": datetime(2024, 5, 1, tzinfo=UTC), "id": ROW_ID, "d": Decimal("1.5")}, secret=""
    )
    body = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    assert body == {
        "v": {"$datetime": "2024-05-01T00:00:00+00:00"},
        "id": {"$uuid": str(ROW_ID)},
        "d": {"$decimal": "1.5"},
    }


@pytest.mark.parametrize("secret", ["", SECRET])
def test_cursors_are_url_safe(secret: str) -> None:
    cursor = encode_cursor({"v": "?&=/+ \u00ff" * 20, "id": ROW_ID}, secret=secret)
    assert re.fullmatch(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)?", cursor)
    assert ("." in cursor) is bool(secret)


def test_str_and_bytes_secrets_are_the_same_key() -> None:
    cursor = encode_cursor({"id": 1}, secret=SECRET)
    assert decode_cursor(cursor, secret=SECRET.encode()) == {"id": 1}


# -- the default secret ------------------------------------------------------------------


def test_without_settings_the_cursor_is_unsigned(proxy: LazySettings) -> None:
    assert not proxy.configured
    cursor = encode_cursor({"id": 1})
    assert "." not in cursor
    assert decode_cursor(cursor) == {"id": 1}


def test_an_empty_secret_key_leaves_the_cursor_unsigned(proxy: LazySettings) -> None:
    proxy.configure(Settings(SECRET_KEY=""))
    assert "." not in encode_cursor({"id": 1})


def test_the_settings_secret_key_signs_by_default(proxy: LazySettings) -> None:
    proxy.configure(Settings(SECRET_KEY=SECRET))
    cursor = encode_cursor({"id": 1})
    assert cursor == encode_cursor({"id": 1}, secret=SECRET)
    assert decode_cursor(cursor) == {"id": 1}
    assert_invalid(cursor, secret="another-secret")
    assert_invalid(encode_cursor({"id": 1}, secret=""), secret=None)


def test_an_explicit_secret_wins_over_the_settings(proxy: LazySettings) -> None:
    proxy.configure(Settings(SECRET_KEY=SECRET))
    cursor = encode_cursor({"id": 1}, secret="explicit")
    assert decode_cursor(cursor, secret="explicit") == {"id": 1}
    assert_invalid(cursor, secret=None)


# -- bad cursors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cursor",
    [
        pytest.param("", id="empty"),
        pytest.param("not base64!", id="bad-characters"),
        pytest.param("eyJpZCI6MX0=", id="padding"),
        pytest.param("a", id="impossible-length"),
        pytest.param(b64(b"\xff\xfe\x00garbage"), id="not-utf8"),
        pytest.param(b64(b"{'id': 1}"), id="not-json"),
        pytest.param(b64(b"[1, 2]"), id="json-array"),
        pytest.param(b64(b'"id"'), id="json-string"),
        pytest.param(b64(b"null"), id="json-null"),
        pytest.param(b64(b'{"v": NaN}'), id="json-nan"),
        pytest.param(b64(b'{"v": Infinity}'), id="json-infinity"),
        pytest.param(b64(b'{"v": {"$uuid": "nope"}}'), id="bad-uuid"),
        pytest.param(b64(b'{"v": {"$datetime": "yesterday"}}'), id="bad-datetime"),
        pytest.param(b64(b'{"v": {"$date": 20240501}}'), id="tag-not-a-string"),
        pytest.param(b64(b'{"v": {"$decimal": "ten"}}'), id="bad-decimal"),
        pytest.param(b64(b'{"v": {"$time": "25:00"}}'), id="bad-time"),
        pytest.param("x" * (MAX_CURSOR_LENGTH + 1), id="too-long"),
        pytest.param(None, id="none"),
        pytest.param(b"eyJpZCI6MX0", id="bytes"),
        pytest.param(123, id="int"),
    ],
)
def test_malformed_cursors_are_rejected(cursor: Any) -> None:
    assert_invalid(cursor)


def test_moderate_nesting_decodes() -> None:
    body = b'{"v":' + b"[" * 50 + b"]" * 50 + b"}"
    value = decode_cursor(b64(body), secret="")["v"]
    for _ in range(49):
        (value,) = value
    assert value == []


def test_absurd_nesting_is_an_invalid_cursor_not_a_crash() -> None:
    body = b'{"v":' + b"[" * 700 + b"]" * 700 + b"}"
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack()) + 100)
    try:
        assert_invalid(b64(body))
    finally:
        sys.setrecursionlimit(limit)


def test_a_truncated_cursor_is_rejected() -> None:
    unsigned = encode_cursor({"v": "a value", "id": ROW_ID}, secret="")
    for cut in (1, 2, 5, len(unsigned) // 2):
        assert_invalid(unsigned[:-cut])
    signed = encode_cursor({"v": "a value", "id": ROW_ID}, secret=SECRET)
    for cut in (1, 3, 10, len(signed) // 2):
        assert_invalid(signed[:-cut], secret=SECRET)


def test_a_tampered_payload_is_rejected_when_signed() -> None:
    cursor = encode_cursor({"user": 1}, secret=SECRET)
    _, tag = cursor.split(".")
    forged = b64(json.dumps({"user": 2}).encode()) + "." + tag
    assert_invalid(forged, secret=SECRET)


def test_a_changed_tag_is_rejected() -> None:
    cursor = encode_cursor({"user": 1}, secret=SECRET)
    flipped = cursor[:-1] + ("A" if cursor[-1] != "A" else "B")
    assert_invalid(flipped, secret=SECRET)


def test_a_missing_tag_is_rejected_when_a_secret_is_in_use() -> None:
    cursor = encode_cursor({"user": 1}, secret=SECRET)
    assert_invalid(cursor.split(".")[0], secret=SECRET)
    assert_invalid(cursor.split(".")[0] + ".", secret=SECRET)


def test_a_tag_is_rejected_when_no_secret_is_in_use() -> None:
    assert_invalid(encode_cursor({"user": 1}, secret=SECRET), secret="")


def test_extra_segments_are_rejected() -> None:
    cursor = encode_cursor({"user": 1}, secret=SECRET)
    assert_invalid(cursor + ".AAAA", secret=SECRET)


def test_the_error_does_not_echo_the_input() -> None:
    with pytest.raises(ValidationException) as caught:
        decode_cursor(b64(b'{"v": {"$uuid": "secret-internal-value"}}'), secret="")
    assert "secret-internal-value" not in str(caught.value.to_dict())


# -- bad payloads and secrets -------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param([1, 2], id="list"),
        pytest.param("id=1", id="str"),
        pytest.param(None, id="none"),
    ],
)
def test_the_payload_must_be_a_dict(payload: Any) -> None:
    with pytest.raises(TypeError, match="must be a dict"):
        encode_cursor(payload, secret="")


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        pytest.param({"v": object()}, "cannot hold object", id="object"),
        pytest.param({"v": {1, 2}}, "cannot hold set", id="set"),
        pytest.param({"v": b"raw"}, "cannot hold bytes", id="bytes"),
        pytest.param({1: "a"}, "keys must be strings", id="int-key"),
        pytest.param({"v": {("a",): 1}}, "keys must be strings", id="nested-tuple-key"),
        pytest.param({"v": {"$uuid": "x"}}, "is reserved", id="reserved-tag"),
    ],
)
def test_unsupported_payload_values_are_refused(payload: Any, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        encode_cursor(payload, secret="")


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_floats_are_refused(value: float) -> None:
    with pytest.raises(ValueError, match="NaN or infinite"):
        encode_cursor({"v": value}, secret="")


@pytest.mark.parametrize("secret", [123, ["key"], bytearray(b"key")])
def test_the_secret_must_be_str_or_bytes(secret: Any) -> None:
    with pytest.raises(TypeError, match="secret must be str or bytes"):
        encode_cursor({"id": 1}, secret=secret)
    with pytest.raises(TypeError, match="secret must be str or bytes"):
        decode_cursor("eyJpZCI6MX0", secret=secret)
