from __future__ import annotations

import bcrypt
import pytest

from tempest.utils.passwords import PasswordUtils

FAST = PasswordUtils(rounds=4)  # the cheapest cost keeps the suite quick; behaviour is the same


# --- bad input --------------------------------------------------------------------------


def test_an_empty_password_is_refused() -> None:
    with pytest.raises(ValueError, match="password must not be empty"):
        FAST.hash("")


@pytest.mark.parametrize("password", [None, b"secret", 1234])
def test_a_password_that_is_not_a_string_is_refused(password: object) -> None:
    with pytest.raises(TypeError, match="password must be a string"):
        FAST.hash(password)  # type: ignore[arg-type]


@pytest.mark.parametrize("rounds", [3, 32, 0, -1])
def test_rounds_outside_bcrypt_limits_are_refused(rounds: int) -> None:
    with pytest.raises(ValueError, match=f"rounds must be between 4 and 31.*got {rounds}"):
        PasswordUtils(rounds=rounds)


@pytest.mark.parametrize("rounds", ["12", 12.0, True])
def test_rounds_that_are_not_an_integer_are_refused(rounds: object) -> None:
    with pytest.raises(TypeError, match="rounds must be an integer"):
        PasswordUtils(rounds=rounds)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "hashed",
    [
        "",
        "not a hash",
        "$2b$04$short",
        None,
        "$2b$04$" + "." * 52,  # one character short
        "$2b$99$" + "a" * 53,  # well-formed but a cost bcrypt refuses
        "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
    ],
)
def test_verify_returns_false_for_a_malformed_hash(hashed: object) -> None:
    assert FAST.verify("secret", hashed) is False  # type: ignore[arg-type]


def test_verify_returns_false_for_an_empty_password() -> None:
    assert FAST.verify("", FAST.hash("x")) is False


# --- hashing and verifying -------------------------------------------------------------


def test_a_password_verifies_against_its_hash_and_a_wrong_one_does_not() -> None:
    stored = FAST.hash("correct horse battery staple")
    assert FAST.verify("correct horse battery staple", stored) is True
    assert FAST.verify("correct horse battery stapler", stored) is False
    assert FAST.verify("Correct horse battery staple", stored) is False


def test_the_hash_is_bcrypt_at_the_configured_cost_with_a_fresh_salt() -> None:
    default = PasswordUtils()
    stored = default.hash("secret")
    assert stored.startswith("$2b$12$") and len(stored) == 60
    assert FAST.hash("secret") != FAST.hash("secret")


def test_short_password_hashes_are_plain_bcrypt_both_ways() -> None:
    from_elsewhere = bcrypt.hashpw("pässword".encode(), bcrypt.gensalt(rounds=4)).decode()
    assert FAST.verify("pässword", from_elsewhere) is True
    ours = FAST.hash("pässword")
    assert bcrypt.checkpw("pässword".encode(), ours.encode()) is True


def test_a_72_byte_password_is_still_plain_bcrypt() -> None:
    password = "a" * 72
    assert bcrypt.checkpw(password.encode(), FAST.hash(password).encode()) is True


@pytest.mark.parametrize("length", [73, 200, 10_000])
def test_passwords_longer_than_72_bytes_round_trip(length: int) -> None:
    password = "p" * length
    stored = FAST.hash(password)
    assert FAST.verify(password, stored) is True
    assert FAST.verify(password[:-1] + "q", stored) is False


def test_long_passwords_sharing_the_first_72_bytes_do_not_cross_verify() -> None:
    prefix = "x" * 72
    first, second = prefix + "-first", prefix + "-second"
    assert FAST.verify(second, FAST.hash(first)) is False
    assert FAST.verify(first, FAST.hash(second)) is False
    assert FAST.verify(prefix, FAST.hash(first)) is False
    assert FAST.verify(first, FAST.hash(prefix)) is False


def test_a_multibyte_password_over_72_bytes_round_trips() -> None:
    password = "senha-çãõ-密码-🔐" * 4  # 29 characters, 120 UTF-8 bytes
    assert len(password.encode()) > 72
    stored = FAST.hash(password)
    assert FAST.verify(password, stored) is True
    assert FAST.verify(password.replace("🔐", "🔑"), stored) is False


def test_a_character_straddling_byte_72_counts_in_full() -> None:
    base = "a" * 71  # the next character's bytes cross the 72-byte boundary
    first, second = base + "é", base + "è"  # both 73 bytes, same first 72 bytes
    assert first.encode()[:72] == second.encode()[:72]
    assert FAST.verify(second, FAST.hash(first)) is False
    assert FAST.verify(first, FAST.hash(first)) is True


def test_a_lone_surrogate_does_not_make_verify_raise() -> None:
    stored = FAST.hash("secret")
    assert FAST.verify("\ud800", stored) is False
    assert FAST.verify("\ud800", FAST.hash("\ud800")) is True


# --- rehash -----------------------------------------------------------------------------


def test_needs_rehash_after_a_cost_change() -> None:
    stored = FAST.hash("secret")
    assert FAST.needs_rehash(stored) is False
    stronger = PasswordUtils(rounds=5)
    assert stronger.needs_rehash(stored) is True
    assert stronger.verify("secret", stored) is True  # the old hash still logs the user in
    assert stronger.needs_rehash(stronger.hash("secret")) is False


@pytest.mark.parametrize(
    "hashed", ["", "garbage", None, "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA"]
)
def test_needs_rehash_for_something_that_is_not_a_bcrypt_hash(hashed: object) -> None:
    assert FAST.needs_rehash(hashed) is True  # type: ignore[arg-type]
