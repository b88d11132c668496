"""Time-based one-time passwords (RFC 6238) for two-factor login: :class:`TOTPHelper`.

A code is accepted once. :meth:`TOTPHelper.verify` returns the time step the code belongs
to; the caller stores it on the user and passes it back as ``last_used_step`` next time, so
a code seen by an attacker (shoulder surfing, a phishing proxy) cannot be replayed while it
is still inside its validity window. pyotp computes the codes.
"""

from __future__ import annotations

import hmac
import re
import time
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyotp

__all__ = ["TOTPHelper"]

_SPACES = re.compile(r"\s+")


class TOTPHelper:
    """Generate TOTP secrets, enrolment URIs and codes, and verify codes once.

    Attributes:
        issuer: Name shown in the authenticator app next to the account.
        digits: Length of a code.
        interval: Seconds a code stays current (one time step).
        valid_window: Steps before and after the current one that are still accepted,
            to tolerate clock drift and typing time.
    """

    def __init__(
        self,
        issuer: str,
        *,
        digits: int = 6,
        interval: int = 30,
        valid_window: int = 1,
    ) -> None:
        """Set the parameters shared by every user's authenticator.

        Args:
            issuer: Name shown in the authenticator app, e.g. the product name.
            digits: Code length, 6 to 8 (6 is what every authenticator app supports).
            interval: Seconds per time step, 1 to 120 (30 is what apps assume).
            valid_window: Neighbouring steps accepted on each side of the current one.

        Raises:
            TypeError: An argument has the wrong type.
            ValueError: An argument is out of range.
        """
        if not isinstance(issuer, str) or not issuer.strip():
            raise ValueError(f"issuer must be a non-empty string, got {issuer!r}")
        self.issuer = issuer
        self.digits = _check_int(digits, "digits", 6, 8)
        self.interval = _check_int(interval, "interval", 1, 120)
        self.valid_window = _check_int(valid_window, "valid_window", 0, 10)
        self._code_pattern = re.compile(rf"[0-9]{{{self.digits}}}")

    def generate_secret(self) -> str:
        """Make a new random secret for a user.

        Returns:
            32 base32 characters (160 bits), to store with the user (encrypted if you can).
        """
        import pyotp

        return pyotp.random_base32()

    def provisioning_uri(self, secret: str, account_name: str) -> str:
        """Build the ``otpauth://`` URI that an authenticator app scans as a QR code.

        Args:
            secret: The user's secret from :meth:`generate_secret`.
            account_name: What the app shows for the account, usually the email.

        Returns:
            The ``otpauth://totp/...`` URI.

        Raises:
            ValueError: ``secret`` is not valid base32 or ``account_name`` is empty.
        """
        if not isinstance(account_name, str) or not account_name.strip():
            raise ValueError(f"account_name must be a non-empty string, got {account_name!r}")
        return self._totp(secret).provisioning_uri(name=account_name, issuer_name=self.issuer)

    def now(self, secret: str) -> str:
        """Return the code an authenticator app shows right now (for tests and tools).

        Args:
            secret: The user's secret.

        Returns:
            The current code.

        Raises:
            ValueError: ``secret`` is not valid base32.
        """
        return self._totp(secret).now()

    def verify(
        self,
        secret: str,
        code: str,
        *,
        last_used_step: int | None = None,
        for_time: datetime | float | None = None,
    ) -> int | None:
        """Check a code typed by the user, refusing a code that was already used.

        Spaces in the code are ignored (apps often show ``123 456``). Anything else that is
        not exactly :attr:`digits` ASCII digits is refused.

        Args:
            secret: The user's secret.
            code: The code the user typed.
            last_used_step: The step returned by the user's last successful verification;
                codes of that step or earlier are refused. ``None`` for a first use.
            for_time: Verify as of this moment instead of now (a datetime or a Unix
                timestamp).

        Returns:
            The time step the code belongs to, to store as the next ``last_used_step``;
            ``None`` when the code is wrong, malformed, outside the window or replayed.

        Raises:
            ValueError: ``secret`` is not valid base32.
            TypeError: ``secret`` is not a string, or ``last_used_step`` is not an integer
                or ``None``.
        """
        if last_used_step is not None and (
            isinstance(last_used_step, bool) or not isinstance(last_used_step, int)
        ):
            raise TypeError(
                f"last_used_step must be an int or None, got {type(last_used_step).__name__}"
            )
        totp = self._totp(secret)
        if not isinstance(code, str):
            return None
        candidate = _SPACES.sub("", code)
        if self._code_pattern.fullmatch(candidate) is None:
            return None
        current = totp.timecode(time.time() if for_time is None else for_time)
        # The current step first: it is the likeliest match.
        offsets = sorted(range(-self.valid_window, self.valid_window + 1), key=abs)
        for step in (current + offset for offset in offsets):
            if step < 0 or (last_used_step is not None and step <= last_used_step):
                continue
            if hmac.compare_digest(totp.generate_otp(step), candidate):
                return step
        return None

    def _totp(self, secret: str) -> pyotp.TOTP:
        import pyotp

        if not isinstance(secret, str):
            raise TypeError(f"a TOTP secret must be a base32 string, got {type(secret).__name__}")
        try:
            totp = pyotp.TOTP(
                secret, digits=self.digits, interval=self.interval, issuer=self.issuer
            )
            totp.byte_secret()
        except ValueError as exc:  # binascii.Error is a ValueError too
            raise ValueError(
                "the TOTP secret is not valid base32 of at least 112 bits: "
                "make secrets with TOTPHelper.generate_secret()"
            ) from exc
        return totp


def _check_int(value: int, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low} and {high}, got {value}")
    return value
