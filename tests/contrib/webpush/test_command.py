"""`python manage.py webpush keys`, run as a user runs it, prints a usable VAPID key pair."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from tempest.webpush.schemas import b64url_decode
from tempest.webpush.vapid import VapidSigner
from tests.warm import warm_manage

pytestmark = pytest.mark.e2e


def test_webpush_keys_prints_a_new_pair_that_signs_and_verifies(
    new_project: Callable[..., Path],
) -> None:
    project = new_project("shop")
    settings_file = project / "shop" / "settings.py"
    source = settings_file.read_text()
    settings_file.write_text(
        source.replace(
            '"tempest.contrib.admin",',
            '"tempest.contrib.admin",\n        "tempest.contrib.webpush",',
        )
    )

    runs = [warm_manage(project, "webpush", "keys") for _ in range(2)]

    pairs = []
    for result in runs:
        assert result.returncode == 0, result.stderr
        found = dict(
            re.findall(r"^(VAPID_PUBLIC_KEY|VAPID_PRIVATE_KEY)=(\S+)$", result.stdout, re.M)
        )
        assert set(found) == {"VAPID_PUBLIC_KEY", "VAPID_PRIVATE_KEY"}, result.stdout
        pairs.append(found)
    assert pairs[0] != pairs[1]  # a new pair each time

    public, private = pairs[0]["VAPID_PUBLIC_KEY"], pairs[0]["VAPID_PRIVATE_KEY"]
    assert len(b64url_decode(public)) == 65 and len(b64url_decode(private)) == 32
    signer = VapidSigner(private, "mailto:ops@example.com", public_key=public)  # halves match
    token = signer.token("https://push.example.com")
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64url_decode(public))
    claims = jwt.decode(token, key, algorithms=["ES256"], audience="https://push.example.com")
    assert claims["sub"] == "mailto:ops@example.com"

    listed = warm_manage(project, "--help")  # grouped under the app that provides it
    assert listed.returncode == 0, listed.stderr
    assert re.search(r"Commands \[webpush\]:\n\s+webpush\s+Web Push", listed.stdout), listed.stdout
