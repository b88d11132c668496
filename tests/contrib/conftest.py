"""Fixtures shared by the contrib apps' tests (admin and auth)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from tempest.utils.passwords import PasswordUtils
from tempest.utils.totp import TOTPHelper


class Checks:
    """Records every password and TOTP code really checked (the real checks still run)."""

    def __init__(self) -> None:
        self.passwords: list[str] = []
        self.codes: list[str] = []
        self._lock = threading.Lock()

    def password(self, value: str) -> None:
        """Record a checked password."""
        with self._lock:
            self.passwords.append(value)

    def code(self, value: str) -> None:
        """Record a checked TOTP code."""
        with self._lock:
            self.codes.append(value)


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> Checks:
    """Count the bcrypt and TOTP verifications that run, in the API and the admin alike."""
    seen = Checks()
    verify_password = PasswordUtils.verify
    verify_code = TOTPHelper.verify

    def counted_password(self: PasswordUtils, password: str, hashed: str) -> bool:
        seen.password(password)
        return verify_password(self, password, hashed)

    def counted_code(self: TOTPHelper, secret: str, code: str, **options: Any) -> int | None:
        seen.code(code)
        return verify_code(self, secret, code, **options)

    monkeypatch.setattr(PasswordUtils, "verify", counted_password)
    monkeypatch.setattr(TOTPHelper, "verify", counted_code)
    return seen
