"""HMAC, RSA and Stripe webhook verifiers: interop, every bad input a 400, 10,000 fuzzed headers.

Stripe's own package is the oracle: its signatures verify here and ours verify there.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
import time
from typing import Any

import pytest
import stripe
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

import tempest
import tempest.api
from tempest.api.webhooks import (
    RSAWebhookSignatureVerifier,
    StripeWebhookVerifier,
    WebhookSignatureError,
    WebhookSignatureVerifier,
)
from tests.api.webhook_helpers import (
    GITHUB_SECRET,
    RSA_KEY,
    RSA_PUBLIC_PEM,
    STRIPE_SECRET,
    apple,
    call,
    github,
    make_app,
    stripe_verifier,
)

pytestmark = pytest.mark.anyio

BODY = b'{"action":"opened","number":1}'
APP, _STANDARD = make_app()


def gh_header(body: bytes = BODY) -> str:
    return "sha256=" + hmac.new(GITHUB_SECRET.encode(), body, hashlib.sha256).hexdigest()


async def post(path: str, body: bytes, **headers: str | bytes) -> tuple[int, dict[str, Any]]:
    raw = [
        (
            name.replace("_", "-").lower().encode(),
            v if isinstance(v, bytes) else v.encode("latin-1"),
        )
        for name, v in headers.items()
    ]
    return await call(APP, path, body, raw)


def assert_refused(answer: tuple[int, dict[str, Any]], reason: str) -> None:
    status, payload = answer
    assert status == 400, payload
    assert payload["code"] == "INVALID_WEBHOOK_SIGNATURE"
    assert payload["details"]["reason"] == reason, payload


# -- the spec's names ----------------------------------------------------------------------


def test_importable_from_tempest_and_tempest_api() -> None:
    assert tempest.WebhookSignatureVerifier is tempest.api.WebhookSignatureVerifier
    assert tempest.RSAWebhookSignatureVerifier is RSAWebhookSignatureVerifier
    assert tempest.StripeWebhookVerifier is StripeWebhookVerifier
    assert issubclass(WebhookSignatureError, tempest.AppException)


def test_the_dependencies_add_no_parameters_to_the_openapi_schema() -> None:
    operations = [item["post"] for item in APP.openapi()["paths"].values()]
    assert len(operations) == 6
    assert all("parameters" not in operation for operation in operations)


# -- HMAC (GitHub style) -------------------------------------------------------------------


async def test_github_signature_passes_and_the_route_gets_the_raw_body() -> None:
    assert await post("/github", BODY, x_hub_signature_256=gh_header()) == (
        200,
        {"received": len(BODY)},
    )


async def test_base64_encoding() -> None:
    digest = hmac.new(b"shpss_secret", BODY, hashlib.sha256).digest()
    sig = base64.b64encode(digest).decode()
    assert (await post("/shopify", BODY, x_shopify_hmac_sha256=sig))[0] == 200


def test_sign_is_what_verify_accepts() -> None:
    assert github.sign(BODY) == gh_header()
    github.verify(BODY, github.sign(BODY))


def test_uppercase_hex_is_the_same_signature() -> None:
    github.verify(BODY, "sha256=" + gh_header()[7:].upper())


async def test_missing_header() -> None:
    assert_refused(await post("/github", BODY), "missing_header")


async def test_empty_header() -> None:
    assert_refused(await post("/github", BODY, x_hub_signature_256=""), "missing_header")


async def test_wrong_prefix() -> None:
    header = "sha1=" + gh_header()[7:]
    assert_refused(await post("/github", BODY, x_hub_signature_256=header), "wrong_prefix")


async def test_non_hex_signature() -> None:
    header = "sha256=" + "zz" * 32
    assert_refused(await post("/github", BODY, x_hub_signature_256=header), "bad_encoding")


async def test_odd_length_hex() -> None:
    header = gh_header()[:-1]
    assert_refused(await post("/github", BODY, x_hub_signature_256=header), "bad_encoding")


async def test_empty_signature_after_the_prefix() -> None:
    assert_refused(await post("/github", BODY, x_hub_signature_256="sha256="), "bad_encoding")


async def test_non_ascii_signature() -> None:
    header = "sha256=é" + gh_header()[8:]
    assert_refused(await post("/github", BODY, x_hub_signature_256=header), "malformed_header")


async def test_non_ascii_raw_bytes_in_the_header() -> None:
    header = b"sha256=\xff\xfe" + gh_header().encode()[9:]
    assert_refused(await post("/github", BODY, x_hub_signature_256=header), "malformed_header")


async def test_body_changed_by_one_byte() -> None:
    changed = BODY[:-2] + b"2}"
    assert_refused(await post("/github", changed, x_hub_signature_256=gh_header()), "mismatch")


async def test_signature_of_another_secret() -> None:
    other = WebhookSignatureVerifier(secret="other", prefix="sha256=")
    header = other.sign(BODY)
    assert_refused(await post("/github", BODY, x_hub_signature_256=header), "mismatch")


async def test_huge_header() -> None:
    header = "sha256=" + "a" * 100_000
    assert_refused(await post("/github", BODY, x_hub_signature_256=header), "header_too_long")


async def test_invalid_base64() -> None:
    assert_refused(
        await post("/shopify", BODY, x_shopify_hmac_sha256="not base64!!"), "bad_encoding"
    )


def test_imperative_verify_raises_with_the_reason() -> None:
    with pytest.raises(WebhookSignatureError) as caught:
        github.verify(BODY, None)
    assert caught.value.reason == "missing_header"
    assert caught.value.status_code == 400


def test_the_message_never_shows_the_expected_signature() -> None:
    with pytest.raises(WebhookSignatureError) as caught:
        github.verify(BODY + b"x", gh_header())
    expected = hmac.new(GITHUB_SECRET.encode(), BODY + b"x", hashlib.sha256).hexdigest()
    assert expected not in str(caught.value.to_dict())


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"secret": ""}, "secret"),
        ({"secret": "s", "algorithm": "rot13"}, "algorithm"),
        ({"secret": "s", "algorithm": "shake_128"}, "algorithm"),
        ({"secret": "s", "encoding": "base32"}, "encoding"),
    ],
)
def test_bad_configuration_is_refused_at_construction(
    options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        WebhookSignatureVerifier(**options)


def test_other_guaranteed_algorithms() -> None:
    legacy = WebhookSignatureVerifier(secret="s", algorithm="sha1", prefix="sha1=")
    legacy.verify(BODY, "sha1=" + hmac.new(b"s", BODY, hashlib.sha1).hexdigest())
    blake = WebhookSignatureVerifier(secret="s", algorithm="blake2b")
    blake.verify(BODY, blake.sign(BODY))


# -- RSA -----------------------------------------------------------------------------------


async def test_rsa_pkcs1v15_sha256() -> None:
    signature = RSA_KEY.sign(BODY, padding.PKCS1v15(), hashes.SHA256())
    header = base64.b64encode(signature).decode()
    assert (await post("/apple", BODY, x_apple_signature=header))[0] == 200


async def test_rsa_pss_sha512() -> None:
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA512()), salt_length=padding.PSS.MAX_LENGTH)
    header = RSA_KEY.sign(BODY, pss, hashes.SHA512()).hex()
    assert (await post("/apple-pss", BODY, x_signature=header))[0] == 200


async def test_rsa_body_changed_by_one_byte() -> None:
    signature = RSA_KEY.sign(BODY, padding.PKCS1v15(), hashes.SHA256())
    header = base64.b64encode(signature).decode()
    assert_refused(await post("/apple", BODY + b" ", x_apple_signature=header), "mismatch")


async def test_rsa_signature_of_the_wrong_length() -> None:
    header = base64.b64encode(b"short").decode()
    assert_refused(await post("/apple", BODY, x_apple_signature=header), "mismatch")


async def test_rsa_missing_header() -> None:
    assert_refused(await post("/apple", BODY), "missing_header")


def test_rsa_wrong_padding_does_not_verify() -> None:
    signature = RSA_KEY.sign(BODY, padding.PKCS1v15(), hashes.SHA512())
    with pytest.raises(WebhookSignatureError):
        RSAWebhookSignatureVerifier(RSA_PUBLIC_PEM, hash_algorithm="sha512", padding="pss").verify(
            BODY, signature.hex()
        )
    assert apple.encoding == "base64"


def test_rsa_refuses_keys_that_are_not_rsa_public_keys() -> None:
    with pytest.raises(ValueError, match="PEM"):
        RSAWebhookSignatureVerifier("not a pem")
    ec_pem = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(ValueError, match="RSA"):
        RSAWebhookSignatureVerifier(ec_pem)
    with pytest.raises(ValueError, match="hash_algorithm"):
        RSAWebhookSignatureVerifier(RSA_PUBLIC_PEM, hash_algorithm="md5")


# -- Stripe --------------------------------------------------------------------------------


def stripe_header(body: bytes = BODY, timestamp: int | None = None) -> str:
    """A header made by the stripe package itself."""
    return str(
        stripe.WebhookSignature.generate_signature_header(
            body.decode(), STRIPE_SECRET, timestamp=timestamp
        )
    )


async def test_stripe_package_signature_verifies_here() -> None:
    assert (await post("/stripe", BODY, stripe_signature=stripe_header()))[0] == 200


def test_our_signature_verifies_in_the_stripe_package() -> None:
    header = stripe_verifier.sign(BODY)
    assert stripe.WebhookSignature.verify_header(BODY, header, STRIPE_SECRET, 300) is True


async def test_stripe_several_v1_signatures_one_matching() -> None:
    header = stripe_header()
    with_more = header.replace(",v1=", ",v1=" + "0" * 64 + ",v0=abc,v1=")
    assert (await post("/stripe", BODY, stripe_signature=with_more))[0] == 200


def test_stripe_rolling_secrets() -> None:
    rolling = StripeWebhookVerifier(["whsec_new", STRIPE_SECRET])
    rolling.verify(BODY, stripe_header())


async def test_stripe_stale_timestamp() -> None:
    header = stripe_header(timestamp=int(time.time()) - 301)
    assert_refused(await post("/stripe", BODY, stripe_signature=header), "stale_timestamp")


async def test_stripe_future_timestamp() -> None:
    header = stripe_header(timestamp=int(time.time()) + 301)
    assert_refused(await post("/stripe", BODY, stripe_signature=header), "future_timestamp")


def test_stripe_tolerance_is_configurable() -> None:
    old = int(time.time()) - 1000
    StripeWebhookVerifier(STRIPE_SECRET, tolerance_seconds=2000).verify(
        BODY, stripe_header(timestamp=old)
    )


async def test_stripe_body_changed_by_one_byte() -> None:
    assert_refused(
        await post("/stripe", BODY.replace(b"1", b"2"), stripe_signature=stripe_header()),
        "mismatch",
    )


async def test_stripe_the_timestamp_is_signed() -> None:
    now = int(time.time())
    header = stripe_header(timestamp=now).replace(f"t={now}", f"t={now - 1}")
    assert_refused(await post("/stripe", BODY, stripe_signature=header), "mismatch")


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("v1=" + "a" * 64, "malformed_header"),  # no t=
        ("t=1,t=2,v1=" + "a" * 64, "malformed_header"),
        ("t={now}", "malformed_header"),  # no v1=
        ("t={now},v0=" + "a" * 64, "malformed_header"),
        ("t=-5,v1=" + "a" * 64, "malformed_header"),
        ("t=12abc,v1=" + "a" * 64, "malformed_header"),
        ("t=99999999999999999999,v1=" + "a" * 64, "malformed_header"),
        ("t={now},v1=" + "z" * 64, "bad_encoding"),
        ("t={now},v1=abc", "bad_encoding"),
        ("t={now},garbage", "malformed_header"),
        ("t={now}," + ",".join(["v1=" + "a" * 64] * 40), "malformed_header"),
        ("sha256=" + "a" * 64, "malformed_header"),
        ("t={now},v1=" + "a" * 9000, "header_too_long"),
    ],
)
async def test_stripe_malformed_headers(header: str, reason: str) -> None:
    header = header.replace("{now}", str(int(time.time())))
    assert_refused(await post("/stripe", BODY, stripe_signature=header), reason)


async def test_stripe_missing_header() -> None:
    assert_refused(await post("/stripe", BODY), "missing_header")


# -- 10,000 fuzzed headers -----------------------------------------------------------------

_ALPHABETS = [
    b"0123456789abcdef",
    b"0123456789abcdefABCDEFxyz=,.-_ ",
    bytes(range(32, 127)),
    bytes(range(0x80, 0x100)),
    b"tv01=,",
]


def _junk(rng: random.Random) -> bytes:
    alphabet = rng.choice(_ALPHABETS)
    length = rng.choice([0, 1, 2, 7, 64, 65, 200, rng.randrange(1, 12_000)])
    return bytes(rng.choice(alphabet) for _ in range(min(length, 9_000))) + (
        b"a" * (length - 9_000) if length > 9_000 else b""
    )


def _break(rng: random.Random, text: bytes) -> bytes:
    """``text`` with a change that cannot keep a signature valid."""
    position = rng.randrange(len(text))
    # Never the same letter in the other case: hex signatures may be written in either.
    replacement = rng.choice(
        [c for c in b"0123456789abcdef=,zZ\xff" if chr(c).lower() != chr(text[position]).lower()]
    )
    choice = rng.randrange(3)
    if choice == 0:
        return text[:position] + bytes([replacement]) + text[position + 1 :]
    if choice == 1:
        return text[:position]
    return text[:position] + bytes([replacement]) + text[position:]


def _fuzzed(rng: random.Random) -> tuple[str, list[tuple[bytes, bytes]]]:
    now = int(time.time())
    kind = rng.randrange(4)
    if kind == 0:
        valid = gh_header().encode()
        value = _junk(rng) if rng.random() < 0.5 else _break(rng, valid)
        return "/github", [(b"x-hub-signature-256", value)]
    if kind == 1:
        valid = stripe_verifier.sign(BODY, timestamp=now).encode()
        if rng.random() < 0.5:
            value = _junk(rng)
        elif rng.random() < 0.5:
            value = b"t=%s,v1=%s" % (_junk(rng)[:20] or b"1", _junk(rng)[:80])
        else:
            value = valid[:13] + _break(rng, valid[13:])
        return "/stripe", [(b"stripe-signature", value)]
    if kind == 2:
        value = _junk(rng)
        return "/apple", [(b"x-apple-signature", value)] if value else []
    headers = _standard_headers(now)
    target = rng.choice(list(headers))
    if rng.random() < 0.5:
        headers[target] = _junk(rng)
    elif target == b"webhook-signature":
        headers[target] = b"v1," + _break(rng, headers[target][3:])
    else:
        headers[target] = _break(rng, headers[target])
    return "/standard", [(name, value) for name, value in headers.items() if value]


def _standard_headers(now: int) -> dict[bytes, bytes]:
    from tempest.api.webhooks import StandardWebhookSigner
    from tests.api.webhook_helpers import STANDARD_SECRET

    signed = StandardWebhookSigner(STANDARD_SECRET).sign(BODY, msg_id="msg_fuzz", timestamp=now)
    return {name.encode(): value.encode() for name, value in signed.items()}


async def test_ten_thousand_fuzzed_headers_are_all_400() -> None:
    rng = random.Random(19)
    statuses: dict[int, int] = {}
    for _ in range(10_000):
        path, headers = _fuzzed(rng)
        status, payload = await call(APP, path, BODY, headers)
        statuses[status] = statuses.get(status, 0) + 1
        assert status == 400, (path, headers, payload)
        assert payload["code"] == "INVALID_WEBHOOK_SIGNATURE"
    assert statuses == {400: 10_000}
