from __future__ import annotations

import base64
import hashlib
import hmac
import re

import pytest

from tempest.utils.opaque_tokens import (
    generate_opaque_token,
    hash_opaque_token,
    verify_opaque_token,
)

PEPPER = "service-wide-pepper"


# --- bad input --------------------------------------------------------------------------


@pytest.mark.parametrize("nbytes", [0, 8, 15, -1])
def test_too_few_bytes_of_randomness_are_refused(nbytes: int) -> None:
    with pytest.raises(ValueError, match=f"nbytes must be at least 16 .*got {nbytes}"):
        generate_opaque_token(nbytes)


@pytest.mark.parametrize("nbytes", ["32", 32.0, True])
def test_nbytes_must_be_an_integer(nbytes: object) -> None:
    with pytest.raises(TypeError, match="nbytes must be an integer"):
        generate_opaque_token(nbytes)  # type: ignore[arg-type]


def test_hashing_an_empty_token_is_refused() -> None:
    with pytest.raises(ValueError, match="token must not be empty"):
        hash_opaque_token("")


def test_hashing_a_token_that_is_not_a_string_is_refused() -> None:
    with pytest.raises(TypeError, match="token must be a string, got bytes"):
        hash_opaque_token(b"abc")  # type: ignore[arg-type]


def test_an_empty_secret_is_refused_on_both_sides() -> None:
    with pytest.raises(ValueError, match="secret must not be empty: pass None"):
        hash_opaque_token("abc", secret="")
    with pytest.raises(ValueError, match="secret must not be empty: pass None"):
        verify_opaque_token("abc", hash_opaque_token("abc"), secret="")


@pytest.mark.parametrize(
    ("token", "digest"),
    [("", "00" * 32), (None, "00" * 32), ("abc", None), ("abc", ""), ("abc", "é" * 64)],
)
def test_verify_returns_false_for_bad_request_input(token: object, digest: object) -> None:
    assert verify_opaque_token(token, digest) is False  # type: ignore[arg-type]


# --- behaviour --------------------------------------------------------------------------


def test_tokens_are_url_safe_random_and_sized_by_nbytes() -> None:
    tokens = {generate_opaque_token() for _ in range(50)}
    assert len(tokens) == 50
    for token in tokens:
        assert re.fullmatch(r"[A-Za-z0-9_-]+", token)
        assert len(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))) == 32
    longer = generate_opaque_token(64)
    assert len(base64.urlsafe_b64decode(longer + "=" * (-len(longer) % 4))) == 64


def test_the_digest_is_sha256_without_a_secret_and_hmac_sha256_with_one() -> None:
    assert hash_opaque_token("abc") == hashlib.sha256(b"abc").hexdigest()
    assert (
        hash_opaque_token("abc", secret=PEPPER)
        == hmac.new(PEPPER.encode(), b"abc", hashlib.sha256).hexdigest()
    )


def test_a_token_verifies_against_its_digest_and_others_do_not() -> None:
    token = generate_opaque_token()
    digest = hash_opaque_token(token, secret=PEPPER)
    assert token not in digest
    assert verify_opaque_token(token, digest, secret=PEPPER) is True
    assert verify_opaque_token(generate_opaque_token(), digest, secret=PEPPER) is False
    assert verify_opaque_token(token[:-1], digest, secret=PEPPER) is False


def test_the_secret_must_match_between_hash_and_verify() -> None:
    token = generate_opaque_token()
    peppered = hash_opaque_token(token, secret=PEPPER)
    assert verify_opaque_token(token, peppered) is False
    assert verify_opaque_token(token, peppered, secret="another-pepper") is False
    assert verify_opaque_token(token, hash_opaque_token(token), secret=PEPPER) is False
