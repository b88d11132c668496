"""Password rules, as in Django: :func:`validate_password` and the bundled validators.

``AUTH_PASSWORD_VALIDATORS`` lists the validators every new password goes through: the
``createsuperuser``, ``changepassword`` and ``user create`` commands, signup, password
reset and password change. Each entry names a class by dotted path, with options::

    AUTH_PASSWORD_VALIDATORS = [
        {"NAME": "tempest.contrib.auth.password_validation.MinimumLengthValidator",
         "OPTIONS": {"min_length": 12}},
        {"NAME": "tempest.contrib.auth.password_validation.CommonPasswordValidator"},
    ]

A validator is any object with ``validate(password, user=None)`` that raises
:class:`PasswordValidationError` (or ``ValueError``) when it refuses the password.
:func:`validate_password` runs all of them and reports every refusal at once.

Passwords are never stripped or otherwise changed: ``" secret "`` and ``"secret"`` are
two different passwords on every path (API, admin, commands), as in Django.
"""

from __future__ import annotations

import difflib
import gzip
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Protocol

from tempest.exceptions import ImproperlyConfigured

__all__ = [
    "DEFAULT_PASSWORD_LIST_PATH",
    "DEFAULT_PASSWORD_VALIDATORS",
    "CommonPasswordValidator",
    "MinimumLengthValidator",
    "NumericPasswordValidator",
    "PasswordProblem",
    "PasswordValidationError",
    "PasswordValidator",
    "UserAttributeSimilarityValidator",
    "get_password_validators",
    "validate_password",
]

DEFAULT_PASSWORD_LIST_PATH = Path(__file__).parent / "data" / "common-passwords.txt.gz"
"""19,640 common passwords (from Django, BSD-3-Clause; see ``data/VENDORED.txt``)."""

_MODULE = __name__
DEFAULT_PASSWORD_VALIDATORS: list[dict[str, Any]] = [
    {"NAME": f"{_MODULE}.UserAttributeSimilarityValidator"},
    {"NAME": f"{_MODULE}.MinimumLengthValidator"},
    {"NAME": f"{_MODULE}.CommonPasswordValidator"},
    {"NAME": f"{_MODULE}.NumericPasswordValidator"},
]
"""The default of ``AUTH_PASSWORD_VALIDATORS``: the four bundled validators."""


@dataclass(frozen=True)
class PasswordProblem:
    """One rule a password breaks.

    Attributes:
        code: A stable upper-case code, e.g. ``"PASSWORD_TOO_SHORT"``.
        message: One sentence for the user.
        params: What the rule needed, e.g. ``{"min_length": 8}``.
    """

    code: str
    message: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """``{"code", "message", **params}``, for the API's error details."""
        return {"code": self.code, "message": self.message, **self.params}


class PasswordValidationError(ValueError):
    """A password broke one or more rules; :attr:`problems` lists every one.

    ``str(error)`` joins the messages, one sentence each.
    """

    def __init__(self, problems: Sequence[PasswordProblem]) -> None:
        """Keep the problems (at least one).

        Args:
            problems: The rules the password breaks.
        """
        self.problems = list(problems)
        super().__init__(" ".join(problem.message for problem in self.problems))


class PasswordValidator(Protocol):
    """What ``AUTH_PASSWORD_VALIDATORS`` entries build."""

    def validate(self, password: str, user: Any = None) -> None:
        """Raise :class:`PasswordValidationError` (or ``ValueError``) to refuse."""


def _refuse(code: str, message: str, **params: Any) -> PasswordValidationError:
    return PasswordValidationError([PasswordProblem(code, message, params)])


class MinimumLengthValidator:
    """At least ``min_length`` characters (default ``AUTH_PASSWORD_MIN_LENGTH``, 8)."""

    def __init__(self, min_length: int | None = None) -> None:
        """Set the minimum.

        Args:
            min_length: The shortest length allowed; None reads ``AUTH_PASSWORD_MIN_LENGTH``
                at each check, so that ``override_settings`` in tests applies.
        """
        if min_length is not None and min_length < 1:
            raise ValueError("min_length must be at least 1")
        self.min_length = min_length

    def _minimum(self) -> int:
        if self.min_length is not None:
            return self.min_length
        from tempest.conf import settings

        return int(getattr(settings, "AUTH_PASSWORD_MIN_LENGTH", 8))

    def validate(self, password: str, user: Any = None) -> None:
        """Refuse a password shorter than the minimum."""
        minimum = self._minimum()
        if len(password) < minimum:
            raise _refuse(
                "PASSWORD_TOO_SHORT",
                f"The password must have at least {minimum} characters.",
                min_length=minimum,
            )


class CommonPasswordValidator:
    """Not one of a list of common passwords (compared lowercased and stripped).

    The default list is the 19,640 passwords Django ships (``common-passwords.txt.gz``).
    """

    def __init__(self, password_list_path: str | Path = DEFAULT_PASSWORD_LIST_PATH) -> None:
        """Load the list (one password a line; gzip when the name ends in ``.gz``).

        Args:
            password_list_path: The file.
        """
        self.passwords = _load_password_list(str(password_list_path))

    def validate(self, password: str, user: Any = None) -> None:
        """Refuse a password of the list."""
        if password.lower().strip() in self.passwords:
            raise _refuse("PASSWORD_TOO_COMMON", "The password is too common.")


@cache
def _load_password_list(path: str) -> frozenset[str]:
    opener: Any = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8") as lines:
            return frozenset(line.strip().lower() for line in lines if line.strip())
    except OSError as error:
        raise ImproperlyConfigured(
            f"AUTH_PASSWORD_VALIDATORS: CommonPasswordValidator cannot read the password "
            f"list {path!r}: {error}"
        ) from error


class NumericPasswordValidator:
    """Not made of digits only."""

    def validate(self, password: str, user: Any = None) -> None:
        """Refuse a password that is all digits."""
        if password.isdigit():
            raise _refuse("PASSWORD_ENTIRELY_NUMERIC", "The password is made of digits only.")


class UserAttributeSimilarityValidator:
    """Not too similar to the user's email (or other attributes), as in Django.

    The password is compared (lowercased, with :class:`difflib.SequenceMatcher`) with each
    attribute and with its parts split at non-word characters, so ``ana.silva@example.com``
    is compared with ``ana``, ``silva``, ``example``, ``com`` and the whole address.
    """

    DEFAULT_USER_ATTRIBUTES = ("email", "username", "first_name", "last_name")

    def __init__(
        self,
        user_attributes: Iterable[str] = DEFAULT_USER_ATTRIBUTES,
        max_similarity: float = 0.7,
    ) -> None:
        """Set what to compare with and how similar is too similar.

        Args:
            user_attributes: Attribute names of the user; missing ones are skipped.
            max_similarity: Refuse at this ratio or above (0.1 to 1).
        """
        if not 0.1 <= max_similarity <= 1:
            raise ValueError("max_similarity must be between 0.1 and 1")
        self.user_attributes = tuple(user_attributes)
        self.max_similarity = max_similarity

    def validate(self, password: str, user: Any = None) -> None:
        """Refuse a password too similar to one of the user's attributes."""
        if user is None:
            return
        lowered = password.lower()
        for name in self.user_attributes:
            value = getattr(user, name, None)
            if not value or not isinstance(value, str):
                continue
            value = value.lower()
            for part in [*re.split(r"\W+", value), value]:
                if not part or _too_long_to_match(lowered, self.max_similarity, part):
                    continue
                matcher = difflib.SequenceMatcher(a=lowered, b=part)
                if matcher.quick_ratio() >= self.max_similarity and (
                    matcher.ratio() >= self.max_similarity
                ):
                    raise _refuse(
                        "PASSWORD_TOO_SIMILAR",
                        f"The password is too similar to the {name.replace('_', ' ')}.",
                        attribute=name,
                    )


def _too_long_to_match(password: str, max_similarity: float, value: str) -> bool:
    """Whether the lengths alone keep the ratio below ``max_similarity`` (Django's shortcut)."""
    return len(password) >= 10 * len(value) and len(value) < max_similarity / 2 * len(password)


def get_password_validators(config: Sequence[Mapping[str, Any]]) -> list[PasswordValidator]:
    """Build the validators of an ``AUTH_PASSWORD_VALIDATORS``-shaped list.

    Args:
        config: ``[{"NAME": "dotted.Path", "OPTIONS": {...}}, ...]``.

    Returns:
        The validators, in order.

    Raises:
        ImproperlyConfigured: An entry has no NAME, does not import, or refuses its options.
    """
    from tempest.utils.imports import import_string

    validators: list[PasswordValidator] = []
    for entry in config:
        name = entry.get("NAME") if isinstance(entry, Mapping) else None
        if not isinstance(name, str) or not name:
            raise ImproperlyConfigured(
                f"AUTH_PASSWORD_VALIDATORS entry {entry!r} needs a 'NAME': the dotted path "
                "of a validator class."
            )
        factory = import_string(name, "AUTH_PASSWORD_VALIDATORS")
        options = dict(entry.get("OPTIONS") or {})
        try:
            validator = factory(**options)
        except (TypeError, ValueError) as error:
            raise ImproperlyConfigured(
                f"AUTH_PASSWORD_VALIDATORS entry {name!r} refuses its OPTIONS {options!r}: {error}"
            ) from error
        validators.append(validator)
    return validators


def _configured_validators() -> list[PasswordValidator]:
    from tempest.conf import settings

    config = getattr(settings, "AUTH_PASSWORD_VALIDATORS", DEFAULT_PASSWORD_VALIDATORS)
    # Keyed by the configuration, so that override_settings in tests is followed while a
    # running project builds its validators (and loads the password list) once.
    key = repr(config)
    cached = _BUILT.get(key)
    if cached is None:
        cached = get_password_validators(config)
        _BUILT.clear()
        _BUILT[key] = cached
    return cached


_BUILT: dict[str, list[PasswordValidator]] = {}


def validate_password(
    password: str, user: Any = None, validators: Sequence[PasswordValidator] | None = None
) -> None:
    """Check a new password against every validator; report all refusals at once.

    The password is checked as given: nothing strips or normalizes it.

    Args:
        password: The new password.
        user: The user it is for (or any object with an ``email``), for the similarity
            rule; None skips the rules that need one.
        validators: Default the ones of ``AUTH_PASSWORD_VALIDATORS``.

    Raises:
        PasswordValidationError: The password breaks one or more rules; ``problems``
            lists each.
        ImproperlyConfigured: ``AUTH_PASSWORD_VALIDATORS`` is wrong.
    """
    if validators is None:
        validators = _configured_validators()
    problems: list[PasswordProblem] = []
    for validator in validators:
        try:
            validator.validate(password, user)
        except PasswordValidationError as error:
            problems.extend(error.problems)
        except ValueError as error:
            problems.append(PasswordProblem("PASSWORD_INVALID", str(error)))
    if problems:
        raise PasswordValidationError(problems)
