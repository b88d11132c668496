from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tempest.exceptions import ExpiredTokenException, InvalidTokenException
from tempest.utils.jwt import JWTUtils

SECRET = "s" * 32
OTHER_SECRET = "o" * 32


def _pem_private(key: Any) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _pem_public(key: Any) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segments(header: dict[str, Any], payload: dict[str, Any]) -> str:
    return _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(payload).encode())


def _claims(**overrides: Any) -> dict[str, Any]:
    """Claims of a token that JWTUtils(SECRET) accepts, with overrides (None removes)."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": "42",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": "x",
        "type": "access",
    }
    claims.update(overrides)
    return {key: value for key, value in claims.items() if value is not None}


def _signed(claims: dict[str, Any], key: str = SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=algorithm)


# --- construction: bad input ------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["none", "None", "NONE"])
def test_algorithm_none_is_refused_at_construction(algorithm: str) -> None:
    with pytest.raises(ValueError, match="refuses algorithm 'none'"):
        JWTUtils(SECRET, algorithm)


def test_an_unknown_algorithm_is_refused() -> None:
    with pytest.raises(ValueError, match=r"unknown JWT algorithm 'HS257'.*HS256"):
        JWTUtils(SECRET, "HS257")


@pytest.mark.parametrize(("algorithm", "minimum"), [("HS256", 32), ("HS384", 48), ("HS512", 64)])
def test_a_short_hmac_secret_is_refused_naming_the_minimum(algorithm: str, minimum: int) -> None:
    with pytest.raises(
        ValueError, match=f"{minimum - 1} bytes long; it must be at least {minimum}"
    ):
        JWTUtils("k" * (minimum - 1), algorithm)
    JWTUtils("k" * minimum, algorithm)  # the minimum itself is enough


def test_a_short_secret_is_measured_in_utf8_bytes() -> None:
    JWTUtils("é" * 16, "HS256")  # 16 characters, 32 bytes
    with pytest.raises(ValueError, match="31 bytes long"):
        JWTUtils("é" * 15 + "a", "HS256")


def test_a_pem_key_is_refused_as_an_hmac_secret(rsa_key: rsa.RSAPrivateKey) -> None:
    with pytest.raises(ValueError, match="HS256 secret is not usable"):
        JWTUtils(_pem_public(rsa_key), "HS256")


def test_public_key_with_an_hmac_algorithm_is_refused(rsa_key: rsa.RSAPrivateKey) -> None:
    with pytest.raises(ValueError, match="public_key is only for asymmetric algorithms"):
        JWTUtils(SECRET, "HS256", public_key=_pem_public(rsa_key))


def test_an_asymmetric_algorithm_refuses_a_secret_that_is_not_a_private_key() -> None:
    with pytest.raises(
        ValueError, match="RS256 needs secret= to be an unencrypted PEM private key"
    ):
        JWTUtils(SECRET, "RS256")


def test_an_asymmetric_algorithm_needs_a_key() -> None:
    with pytest.raises(ValueError, match="RS256 needs a PEM private key"):
        JWTUtils("", "RS256")


def test_a_key_of_the_wrong_family_is_refused(rsa_key: rsa.RSAPrivateKey) -> None:
    with pytest.raises(ValueError, match="does not fit ES256"):
        JWTUtils(_pem_private(rsa_key), "ES256")


def test_a_public_key_of_another_pair_is_refused(rsa_key: rsa.RSAPrivateKey) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(ValueError, match="public_key does not belong to the private key"):
        JWTUtils(_pem_private(rsa_key), "RS256", public_key=_pem_public(other))


def test_a_weak_rsa_key_is_refused() -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(ValueError, match="too weak for RS256"):
        JWTUtils(_pem_private(weak), "RS256")


@pytest.mark.parametrize("ttl", [timedelta(0), timedelta(seconds=-5), timedelta(milliseconds=500)])
def test_a_default_ttl_under_a_second_is_refused(ttl: timedelta) -> None:
    with pytest.raises(ValueError, match="default_ttl must be at least one second"):
        JWTUtils(SECRET, default_ttl=ttl)


def test_a_ttl_that_is_not_a_timedelta_is_refused() -> None:
    with pytest.raises(TypeError, match=r"default_ttl must be a datetime\.timedelta"):
        JWTUtils(SECRET, default_ttl=900)  # type: ignore[arg-type]


def test_a_negative_leeway_is_refused() -> None:
    with pytest.raises(ValueError, match="leeway must not be negative"):
        JWTUtils(SECRET, leeway=timedelta(seconds=-1))


def test_an_empty_issuer_is_refused() -> None:
    with pytest.raises(ValueError, match="issuer must be a non-empty string or None"):
        JWTUtils(SECRET, issuer="")


# --- encode: bad input ------------------------------------------------------------------


@pytest.mark.parametrize("claim", ["exp", "iat", "nbf", "type", "iss", "aud"])
def test_encode_refuses_claims_it_manages(claim: str) -> None:
    with pytest.raises(ValueError, match=f"sets {claim} itself"):
        JWTUtils(SECRET).encode({"sub": "1", claim: "x"})


@pytest.mark.parametrize("claim", ["sub", "jti"])
def test_encode_refuses_a_subject_or_id_that_is_not_a_string(claim: str) -> None:
    with pytest.raises(
        TypeError, match=rf"'{claim}' claim must be a string, got int: convert it with str\(\)"
    ):
        JWTUtils(SECRET).encode({claim: 1})


def test_encode_refuses_claims_that_are_not_a_mapping() -> None:
    with pytest.raises(TypeError, match="JWT claims must be a mapping, got list"):
        JWTUtils(SECRET).encode([("sub", "1")])  # type: ignore[arg-type]


def test_encode_refuses_an_empty_token_type() -> None:
    with pytest.raises(ValueError, match="token_type must be a non-empty string"):
        JWTUtils(SECRET).encode({"sub": "1"}, token_type="")


def test_encode_refuses_a_ttl_under_a_second() -> None:
    with pytest.raises(ValueError, match="ttl must be at least one second"):
        JWTUtils(SECRET).encode({"sub": "1"}, ttl=timedelta(0))


def test_a_verify_only_instance_cannot_sign(rsa_key: rsa.RSAPrivateKey) -> None:
    verifier = JWTUtils("", "RS256", public_key=_pem_public(rsa_key))
    with pytest.raises(ValueError, match="only verifies tokens"):
        verifier.encode({"sub": "1"})


# --- round trips ------------------------------------------------------------------------


def test_encode_then_decode_returns_the_claims_and_the_registered_ones() -> None:
    tokens = JWTUtils(SECRET, default_ttl=timedelta(minutes=5))
    before = int(time.time())
    claims = tokens.decode(tokens.encode({"sub": "42", "roles": ["admin"]}))
    after = int(time.time())
    assert claims["sub"] == "42"
    assert claims["roles"] == ["admin"]
    assert claims["type"] == "access"
    assert before <= claims["iat"] <= after
    assert claims["nbf"] == claims["iat"]
    assert claims["exp"] - claims["iat"] == 300
    assert isinstance(claims["jti"], str) and claims["jti"]
    assert "iss" not in claims and "aud" not in claims


def test_the_ttl_argument_overrides_the_default() -> None:
    tokens = JWTUtils(SECRET)
    claims = tokens.decode(tokens.encode({"sub": "1"}, ttl=timedelta(days=7)))
    assert claims["exp"] - claims["iat"] == 7 * 24 * 3600


def test_each_token_gets_its_own_jti_unless_the_caller_sets_one() -> None:
    tokens = JWTUtils(SECRET)
    first = tokens.decode(tokens.encode({"sub": "1"}))
    second = tokens.decode(tokens.encode({"sub": "1"}))
    assert first["jti"] != second["jti"]
    assert tokens.decode(tokens.encode({"sub": "1", "jti": "row-7"}))["jti"] == "row-7"


def test_issuer_and_audience_are_set_and_accepted() -> None:
    tokens = JWTUtils(SECRET, issuer="shop", audience="shop-api")
    claims = tokens.decode(tokens.encode({"sub": "1"}))
    assert (claims["iss"], claims["aud"]) == ("shop", "shop-api")


def test_a_refresh_token_is_accepted_where_a_refresh_token_is_expected() -> None:
    tokens = JWTUtils(SECRET)
    token = tokens.encode({"sub": "1"}, token_type="refresh")
    assert tokens.decode(token, token_type="refresh")["type"] == "refresh"
    assert tokens.decode(token, token_type=None)["type"] == "refresh"


@pytest.mark.parametrize("algorithm", ["HS384", "HS512"])
def test_longer_hmac_algorithms_round_trip(algorithm: str) -> None:
    tokens = JWTUtils("k" * 64, algorithm)
    token = tokens.encode({"sub": "1"})
    assert jwt.get_unverified_header(token)["alg"] == algorithm
    assert tokens.decode(token)["sub"] == "1"


def test_rs256_signs_with_the_private_key_and_verifies_with_the_public_key(
    rsa_key: rsa.RSAPrivateKey,
) -> None:
    signer = JWTUtils(_pem_private(rsa_key), "RS256", public_key=_pem_public(rsa_key))
    verifier = JWTUtils("", "RS256", public_key=_pem_public(rsa_key))
    token = signer.encode({"sub": "1"})
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    assert verifier.decode(token)["sub"] == "1"
    assert signer.decode(token)["sub"] == "1"


def test_es256_round_trips_with_the_public_key_derived_from_the_private_key() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    tokens = JWTUtils(_pem_private(key), "ES256")
    assert tokens.decode(tokens.encode({"sub": "1"}))["sub"] == "1"


def test_a_token_from_another_key_pair_is_rejected(rsa_key: rsa.RSAPrivateKey) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = JWTUtils(_pem_private(other), "RS256").encode({"sub": "1"})
    with pytest.raises(InvalidTokenException):
        JWTUtils(_pem_private(rsa_key), "RS256").decode(token)


# --- security: forged and unacceptable tokens ------------------------------------------


def test_a_token_with_alg_none_is_rejected() -> None:
    unsigned = _segments({"alg": "none", "typ": "JWT"}, _claims()) + "."
    with pytest.raises(InvalidTokenException):
        JWTUtils(SECRET).decode(unsigned)


def test_an_hs256_token_signed_with_the_rs256_public_key_is_rejected(
    rsa_key: rsa.RSAPrivateKey,
) -> None:
    public_pem = _pem_public(rsa_key)
    tokens = JWTUtils(_pem_private(rsa_key), "RS256", public_key=public_pem)
    signing_input = _segments({"alg": "HS256", "typ": "JWT"}, _claims())
    signature = hmac.new(public_pem.encode(), signing_input.encode(), hashlib.sha256).digest()
    forged = signing_input + "." + _b64(signature)
    with pytest.raises(InvalidTokenException):
        tokens.decode(forged)


def test_a_token_for_another_hmac_algorithm_is_rejected() -> None:
    token = _signed(_claims(), "k" * 64, "HS256")
    with pytest.raises(InvalidTokenException):
        JWTUtils("k" * 64, "HS512").decode(token)


def test_a_token_without_exp_is_rejected() -> None:
    tokens = JWTUtils(SECRET)
    assert tokens.decode(_signed(_claims()))["sub"] == "42"  # the same token with exp passes
    with pytest.raises(InvalidTokenException):
        tokens.decode(_signed(_claims(exp=None)))


def test_a_token_without_iat_is_rejected() -> None:
    with pytest.raises(InvalidTokenException):
        JWTUtils(SECRET).decode(_signed(_claims(iat=None)))


def test_a_token_with_nbf_in_the_future_is_rejected() -> None:
    with pytest.raises(InvalidTokenException):
        JWTUtils(SECRET).decode(_signed(_claims(nbf=int(time.time()) + 120)))


def test_a_token_with_iat_in_the_future_is_rejected() -> None:
    with pytest.raises(InvalidTokenException):
        JWTUtils(SECRET).decode(_signed(_claims(iat=int(time.time()) + 120)))


def test_leeway_tolerates_a_little_clock_skew_on_nbf() -> None:
    token = _signed(_claims(nbf=int(time.time()) + 20))
    assert JWTUtils(SECRET, leeway=timedelta(seconds=60)).decode(token)["sub"] == "42"


def test_an_expired_token_raises_expired_not_invalid() -> None:
    now = int(time.time())
    token = _signed(_claims(iat=now - 120, nbf=now - 120, exp=now - 60))
    with pytest.raises(ExpiredTokenException):
        JWTUtils(SECRET).decode(token)
    assert JWTUtils(SECRET, leeway=timedelta(seconds=120)).decode(token)["sub"] == "42"


def test_an_expired_token_with_a_bad_signature_is_invalid_not_expired() -> None:
    now = int(time.time())
    token = _signed(_claims(iat=now - 120, nbf=now - 120, exp=now - 60), OTHER_SECRET)
    with pytest.raises(InvalidTokenException):
        JWTUtils(SECRET).decode(token)


def test_a_token_for_another_audience_is_rejected() -> None:
    token = JWTUtils(SECRET, audience="billing-api").encode({"sub": "1"})
    with pytest.raises(InvalidTokenException):
        JWTUtils(SECRET, audience="shop-api").decode(token)


def test_a_token_without_audience_is_rejected_when_one_is_configured() -> None:
    token = JWTUtils(SECRET).encode({"sub": "1"})
    with pytest.raises(InvalidTokenException):
        JWTUtils(SECRET, audience="shop-api").decode(token)


def test_a_token_from_another_issuer_is_rejected() -> None:
    token = JWTUtils(SECRET, issuer="evil").encode({"sub": "1"})
    with pytest.raises(InvalidTokenException):
        JWTUtils(SECRET, issuer="shop").decode(token)


def test_a_token_without_issuer_is_rejected_when_one_is_configured() -> None:
    token = JWTUtils(SECRET).encode({"sub": "1"})
    with pytest.raises(InvalidTokenException):
        JWTUtils(SECRET, issuer="shop").decode(token)


def test_a_refresh_token_is_rejected_where_an_access_token_is_expected() -> None:
    tokens = JWTUtils(SECRET)
    refresh = tokens.encode({"sub": "1"}, token_type="refresh")
    with pytest.raises(InvalidTokenException):
        tokens.decode(refresh)
    assert tokens.decode_or_none(refresh) is None


def test_a_token_without_a_type_is_rejected_unless_any_type_is_accepted() -> None:
    token = _signed(_claims(type=None))
    with pytest.raises(InvalidTokenException):
        JWTUtils(SECRET).decode(token)
    assert JWTUtils(SECRET).decode(token, token_type=None)["sub"] == "42"


def test_a_token_signed_with_another_secret_is_rejected() -> None:
    with pytest.raises(InvalidTokenException):
        JWTUtils(SECRET).decode(_signed(_claims(), OTHER_SECRET))


def test_a_tampered_payload_is_rejected() -> None:
    tokens = JWTUtils(SECRET)
    header, _, signature = tokens.encode({"sub": "1"}).split(".")
    tampered_payload = _b64(json.dumps(_claims(sub="1", roles=["admin"])).encode())
    with pytest.raises(InvalidTokenException):
        tokens.decode(f"{header}.{tampered_payload}.{signature}")


@pytest.mark.parametrize(
    "token",
    ["", "abc", "a.b.c", "...", "Bearer x.y.z", "eyJhbGciOiJIUzI1NiJ9.e30", "\u00e9.\u00e9.\u00e9"],
)
def test_malformed_tokens_are_invalid(token: str) -> None:
    with pytest.raises(InvalidTokenException):
        JWTUtils(SECRET).decode(token)


@pytest.mark.parametrize("token", [None, b"x.y.z", 42])
def test_a_token_that_is_not_a_string_is_invalid(token: object) -> None:
    with pytest.raises(InvalidTokenException):
        JWTUtils(SECRET).decode(token)  # type: ignore[arg-type]


def test_a_payload_that_is_not_an_object_is_invalid() -> None:
    signing_input = _b64(b'{"alg":"HS256","typ":"JWT"}') + "." + _b64(b"[1,2]")
    signature = hmac.new(SECRET.encode(), signing_input.encode(), hashlib.sha256).digest()
    with pytest.raises(InvalidTokenException):
        JWTUtils(SECRET).decode(signing_input + "." + _b64(signature))


# --- decode_or_none ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda: "not-a-token",
        lambda: _signed(_claims(exp=int(time.time()) - 5, iat=int(time.time()) - 60)),
        lambda: _signed(_claims(), OTHER_SECRET),
    ],
    ids=["malformed", "expired", "bad-signature"],
)
def test_decode_or_none_returns_none_instead_of_raising(make: Callable[[], str]) -> None:
    assert JWTUtils(SECRET).decode_or_none(make()) is None


def test_decode_or_none_returns_the_claims_of_a_good_token() -> None:
    tokens = JWTUtils(SECRET)
    claims = tokens.decode_or_none(tokens.encode({"sub": "7"}))
    assert claims is not None and claims["sub"] == "7"
