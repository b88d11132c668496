"""Password hashing with bcrypt: :class:`PasswordUtils`.

bcrypt reads at most 72 bytes of a password, and bcrypt 5 refuses longer input outright.
Cutting the password at 72 bytes would make every password that shares those bytes (a
long passphrase with different endings) verify against the same hash. Instead:

* a password of at most 72 UTF-8 bytes goes to bcrypt unchanged, so these hashes are plain
  bcrypt hashes that any other bcrypt implementation verifies, and the other way round;
* a longer password is first reduced to
  ``base64(HMAC-SHA-256(key=b"tempest.passwords.prehash.v1", password))``: 44 ASCII bytes,
  never a NUL byte, and every byte of the password counts. The fixed HMAC key separates
  these values from plain SHA-256 digests of the same passwords that may have leaked
  elsewhere.

The choice depends only on the password's length, so hashing and verifying always take the
same path. A hash of a password longer than 72 bytes made by a library that truncated it
does not verify here: such a user must reset the password.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

__all__ = ["PasswordUtils"]

_BCRYPT_MAX_BYTES = 72
_PREHASH_KEY = b"tempest.passwords.prehash.v1"
_BCRYPT_HASH = re.compile(r"^\$2[abxy]\$(\d\d)\$[./A-Za-z0-9]{53}$")
_MIN_ROUNDS, _MAX_ROUNDS = 4, 31


class PasswordUtils:
    """Hash and verify passwords with bcrypt at a fixed cost.

    Attributes:
        rounds: The bcrypt cost factor (log2 of the iterations) used for new hashes.
    """

    def __init__(self, rounds: int = 12) -> None:
        """Set the cost of new hashes.

        Args:
            rounds: bcrypt cost factor, 4 to 31. Each step doubles the time of a hash;
                12 takes about a quarter of a second on a current server core.

        Raises:
            TypeError: ``rounds`` is not an integer.
            ValueError: ``rounds`` is outside 4..31.
        """
        if isinstance(rounds, bool) or not isinstance(rounds, int):
            raise TypeError(f"rounds must be an integer, got {type(rounds).__name__}")
        if not _MIN_ROUNDS <= rounds <= _MAX_ROUNDS:
            raise ValueError(
                f"rounds must be between {_MIN_ROUNDS} and {_MAX_ROUNDS} (bcrypt's limits), "
                f"got {rounds}; 12 is a good default"
            )
        self.rounds = rounds

    def hash(self, password: str) -> str:
        """Hash ``password`` with a fresh salt.

        Args:
            password: The plain password; any length, any Unicode.

        Returns:
            The bcrypt hash (``$2b$<rounds>$...``, 60 ASCII characters) to store.

        Raises:
            TypeError: ``password`` is not a string.
            ValueError: ``password`` is empty.
        """
        import bcrypt

        if not isinstance(password, str):
            raise TypeError(f"password must be a string, got {type(password).__name__}")
        if not password:
            raise ValueError("password must not be empty")
        salt = bcrypt.gensalt(rounds=self.rounds)
        return bcrypt.hashpw(_bcrypt_input(password), salt).decode("ascii")

    def verify(self, password: str, hashed: str) -> bool:
        """Tell whether ``password`` matches the stored hash ``hashed``.

        Never raises for bad data: an empty password, a hash that is not a bcrypt hash
        (including ``None`` for an account without a password) all give ``False``.

        Args:
            password: The plain password the user typed.
            hashed: The stored hash.

        Returns:
            ``True`` when the password matches.
        """
        import bcrypt

        if not isinstance(password, str) or not password:
            return False
        if not isinstance(hashed, str) or _BCRYPT_HASH.match(hashed) is None:
            return False
        try:
            return bcrypt.checkpw(_bcrypt_input(password), hashed.encode("ascii"))
        except ValueError:  # a hash whose salt or cost bcrypt refuses
            return False

    def needs_rehash(self, hashed: str) -> bool:
        """Tell whether ``hashed`` should be replaced by a fresh hash at the next login.

        Args:
            hashed: The stored hash.

        Returns:
            ``True`` when its cost differs from :attr:`rounds`, or when it is not a bcrypt
            hash at all.
        """
        match = _BCRYPT_HASH.match(hashed) if isinstance(hashed, str) else None
        return match is None or int(match.group(1)) != self.rounds


def _bcrypt_input(password: str) -> bytes:
    # surrogatepass: a lone surrogate (valid JSON, invalid UTF-8) must not make verify raise.
    encoded = password.encode("utf-8", "surrogatepass")
    if len(encoded) <= _BCRYPT_MAX_BYTES:
        return encoded
    digest = hmac.new(_PREHASH_KEY, encoded, hashlib.sha256).digest()
    return base64.b64encode(digest)
