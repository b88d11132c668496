from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest

from tempest.utils.totp import TOTPHelper

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
T = 1_700_000_010  # a fixed moment: step 56_666_667 starts at 1_700_000_010
STEP = T // 30
HELPER = TOTPHelper("Shop")


def code_at(step: int, secret: str = SECRET, digits: int = 6) -> str:
    """The code of a time step, computed by pyotp independently of TOTPHelper."""
    return pyotp.TOTP(secret, digits=digits).at(step * 30)


# --- bad input --------------------------------------------------------------------------


@pytest.mark.parametrize("issuer", ["", "   "])
def test_an_empty_issuer_is_refused(issuer: str) -> None:
    with pytest.raises(ValueError, match="issuer must be a non-empty string"):
        TOTPHelper(issuer)


@pytest.mark.parametrize(
    ("option", "value"),
    [("digits", 5), ("digits", 9), ("interval", 0), ("interval", 121), ("valid_window", -1)],
)
def test_options_out_of_range_are_refused(option: str, value: int) -> None:
    with pytest.raises(ValueError, match=f"{option} must be between .* got {value}"):
        TOTPHelper("Shop", **{option: value})


@pytest.mark.parametrize("value", ["6", 6.0, True])
def test_options_that_are_not_integers_are_refused(value: object) -> None:
    with pytest.raises(TypeError, match="digits must be an integer"):
        TOTPHelper("Shop", digits=value)  # type: ignore[arg-type]


@pytest.mark.parametrize("secret", ["not base32!", "ABCDEFGH", ""])
def test_a_bad_secret_is_refused_everywhere(secret: str) -> None:
    for call in (
        lambda: HELPER.now(secret),
        lambda: HELPER.verify(secret, "123456"),
        lambda: HELPER.provisioning_uri(secret, "ana@example.com"),
    ):
        with pytest.raises(ValueError, match="not valid base32 of at least 112 bits"):
            call()


def test_a_secret_that_is_not_a_string_is_refused() -> None:
    with pytest.raises(TypeError, match="TOTP secret must be a base32 string, got bytes"):
        HELPER.now(SECRET.encode())  # type: ignore[arg-type]


def test_last_used_step_must_be_an_integer() -> None:
    with pytest.raises(TypeError, match="last_used_step must be an int or None, got str"):
        HELPER.verify(SECRET, "123456", last_used_step="5")  # type: ignore[arg-type]


def test_an_empty_account_name_is_refused() -> None:
    with pytest.raises(ValueError, match="account_name must be a non-empty string"):
        HELPER.provisioning_uri(SECRET, "")


@pytest.mark.parametrize(
    "code",
    ["", "12345", "1234567", "abcdef", "12345a", "١٢٣٤٥٦", "12-34-56", None, 123456],
)
def test_malformed_codes_are_refused(code: object) -> None:
    assert HELPER.verify(SECRET, code, for_time=T) is None  # type: ignore[arg-type]


# --- secrets and enrolment --------------------------------------------------------------


def test_generated_secrets_are_160_bit_base32_and_unique() -> None:
    secrets = {HELPER.generate_secret() for _ in range(20)}
    assert len(secrets) == 20
    assert all(re.fullmatch(r"[A-Z2-7]{32}", secret) for secret in secrets)


def test_the_provisioning_uri_is_what_authenticator_apps_scan() -> None:
    uri = TOTPHelper("Shop Inc", digits=8).provisioning_uri(SECRET, "ana@example.com")
    parsed = urlparse(uri)
    assert (parsed.scheme, parsed.netloc) == ("otpauth", "totp")
    assert parsed.path == "/Shop%20Inc:ana%40example.com"
    query = parse_qs(parsed.query)
    assert query["secret"] == [SECRET]
    assert query["issuer"] == ["Shop Inc"]
    assert query["digits"] == ["8"]
    scanned = pyotp.parse_uri(uri)  # what an app reads back generates the same codes
    assert scanned.at(T) == code_at(STEP, digits=8)


def test_now_is_the_code_an_app_shows() -> None:
    secret = HELPER.generate_secret()
    shown = HELPER.now(secret)
    assert re.fullmatch(r"[0-9]{6}", shown)
    assert HELPER.verify(secret, shown) is not None


# --- verification -----------------------------------------------------------------------


def test_the_current_code_verifies_and_returns_its_step() -> None:
    assert HELPER.verify(SECRET, code_at(STEP), for_time=T) == STEP
    assert HELPER.verify(SECRET, code_at(STEP), for_time=datetime.fromtimestamp(T, UTC)) == STEP


def test_a_wrong_code_is_refused() -> None:
    wrong = f"{(int(code_at(STEP)) + 1) % 1_000_000:06d}"
    assert HELPER.verify(SECRET, wrong, for_time=T) is None


def test_spaces_in_a_code_are_ignored() -> None:
    code = code_at(STEP)
    assert HELPER.verify(SECRET, f" {code[:3]} {code[3:]} ", for_time=T) == STEP


def test_neighbouring_steps_are_accepted_inside_the_window_only() -> None:
    assert HELPER.verify(SECRET, code_at(STEP - 1), for_time=T) == STEP - 1
    assert HELPER.verify(SECRET, code_at(STEP + 1), for_time=T) == STEP + 1
    assert HELPER.verify(SECRET, code_at(STEP - 2), for_time=T) is None
    wide = TOTPHelper("Shop", valid_window=2)
    assert wide.verify(SECRET, code_at(STEP - 2), for_time=T) == STEP - 2
    strict = TOTPHelper("Shop", valid_window=0)
    assert strict.verify(SECRET, code_at(STEP - 1), for_time=T) is None


def test_a_code_replayed_inside_its_window_is_refused() -> None:
    code = code_at(STEP)
    used = HELPER.verify(SECRET, code, for_time=T)
    assert used == STEP
    assert HELPER.verify(SECRET, code, last_used_step=used, for_time=T) is None
    assert HELPER.verify(SECRET, code, last_used_step=used, for_time=T + 29) is None


def test_an_older_code_is_refused_after_a_newer_one_was_used() -> None:
    assert HELPER.verify(SECRET, code_at(STEP - 1), last_used_step=STEP, for_time=T) is None


def test_the_next_code_is_accepted_after_one_was_used() -> None:
    assert HELPER.verify(SECRET, code_at(STEP + 1), last_used_step=STEP, for_time=T + 30) == (
        STEP + 1
    )


def test_eight_digit_codes_with_a_longer_interval() -> None:
    helper = TOTPHelper("Shop", digits=8, interval=60)
    code = pyotp.TOTP(SECRET, digits=8, interval=60).at(T)
    assert helper.verify(SECRET, code, for_time=T) == T // 60
    assert helper.verify(SECRET, code[:6], for_time=T) is None
