"""Which settings are secret, and how their values are masked wherever settings print.

One definition, used by the settings' ``repr``/``str`` (so ``print(settings)`` and
logging), by their validation errors, by ``manage.py diffsettings`` and by the one-line
``Invalid settings`` message:

- a setting is **secret** when its name is, or ends with ``_`` and, one of
  :data:`SECRET_NAME_ENDINGS` (``SECRET_KEY``, ``JWT_SECRET``, ``SMTP_PASSWORD``,
  ``MINIO_ACCESS_KEY``, ``GITHUB_TOKEN``, ...), when it is typed ``SecretStr`` or
  ``SecretBytes``, or when the settings class lists it in ``secret_settings``; its value
  shows as :data:`MASK` (an empty value or ``None`` shows as is: nothing to hide);
- in every other value, the password of a URL (``postgresql://shop:pw@db/shop``) and
  secret-looking query parameters (``?password=pw``) show as ``***``, and so do the
  values of secret-named keys of a dict.

Only what prints is masked: ``settings.SECRET_KEY`` and ``model_dump()`` return the real
values.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection, Iterable, Iterator
from typing import TYPE_CHECKING, Any, get_args

if TYPE_CHECKING:
    from pydantic import ValidationError

MASK = "********"
"""What a secret value shows as (the same as a 422's hidden input)."""

URL_PASSWORD_MASK = "***"
"""What the password of a URL shows as (as SQLAlchemy's ``hide_password`` writes it)."""

SECRET_NAME_ENDINGS: tuple[str, ...] = (
    "SECRET",
    "SECRET_KEY",
    "PASSWORD",
    "PASSWD",
    "PASSPHRASE",
    "TOKEN",
    "ACCESS_KEY",
    "PRIVATE_KEY",
    "API_KEY",
)
"""A setting named one of these, or ending with ``_`` and one of these, is secret."""

_URL_CREDENTIALS = re.compile(
    # scheme://user:password@host... The password runs to the last '@': SQLAlchemy accepts
    # unencoded '/', '?' and '@' in it, which urlsplit would cut at.
    r"^(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^:@/?#]*:)(?P<password>.*)(?P<tail>@[^@]*)$",
    re.DOTALL,
)
_QUERY_PARAMETER = re.compile(r"(?P<key>[?&;][^=&;#]*=)(?P<value>[^&;#]*)")
_SECRET_QUERY_WORDS = ("password", "passwd", "secret", "token")


def is_secret_setting(name: str) -> bool:
    """Whether a setting (or a dict key) named ``name`` holds a secret, by its name alone.

    Args:
        name: A setting name such as ``SMTP_PASSWORD``; the case does not matter.

    Returns:
        True when the name is one of :data:`SECRET_NAME_ENDINGS` or ends with ``_`` and
        one of them. ``AUTH_PASSWORD_MIN_LENGTH`` is not secret: ``PASSWORD`` is not its
        ending.
    """
    upper = name.upper()
    return any(upper == ending or upper.endswith("_" + ending) for ending in SECRET_NAME_ENDINGS)


def declared_secret_settings(settings_class: type) -> frozenset[str]:
    """The names listed in ``secret_settings`` by a settings class and its bases."""
    declared: set[str] = set()
    for klass in settings_class.__mro__:
        declared.update(klass.__dict__.get("secret_settings", ()))
    return frozenset(declared)


def secret_setting_names(settings_class: type) -> frozenset[str]:
    """The fields of a settings class whose values are masked.

    Args:
        settings_class: A subclass of :class:`tempest.conf.Settings` (or of any mixin).

    Returns:
        The fields that are secret by name (:func:`is_secret_setting`), typed
        ``SecretStr``/``SecretBytes``, or listed in ``secret_settings`` by the class or
        one of its bases.
    """
    fields: dict[str, Any] = getattr(settings_class, "model_fields", {})
    declared = declared_secret_settings(settings_class)
    return frozenset(
        name
        for name, field in fields.items()
        if name in declared or is_secret_setting(name) or _is_secret_type(field.annotation)
    )


def check_secret_settings(settings_class: type) -> None:
    """Refuse a ``secret_settings`` that is a bare string or names something not a field.

    Raises:
        TypeError: With the class and the names to fix.
    """
    declared = settings_class.__dict__.get("secret_settings")
    if declared is None:
        return
    name = settings_class.__name__
    if isinstance(declared, str | bytes) or not isinstance(declared, Iterable):
        raise TypeError(
            f"{name}.secret_settings must be a collection of names, not a "
            f"{type(declared).__name__}: write secret_settings = {{{declared!r}}}."
        )
    fields: dict[str, Any] = getattr(settings_class, "model_fields", {})
    unknown = sorted(str(item) for item in declared if item not in fields)
    if unknown:
        raise TypeError(
            f"{name}.secret_settings names {', '.join(unknown)}, which is not a field of "
            f"{name}: fix the spelling or declare the setting."
        )


def mask_url(url: str) -> str:
    """``url`` with its password and secret query parameters replaced by ``***``.

    The one way tempest prints a URL that may hold credentials (settings, error messages,
    commands); the shorter :data:`URL_PASSWORD_MASK` keeps URLs readable.

    Args:
        url: Any string; only ``scheme://...`` ones can change.

    Returns:
        For example ``postgresql+asyncpg://shop:***@db:5432/shop`` or
        ``postgresql://db/shop?password=***``; ``url`` itself (the same object) when
        there is nothing to hide.
    """
    if "://" not in url:
        return url
    masked = url
    credentials = _URL_CREDENTIALS.match(masked)
    if credentials is not None and credentials["password"]:
        masked = f"{credentials['head']}{URL_PASSWORD_MASK}{credentials['tail']}"
    if "=" in masked:
        masked = _QUERY_PARAMETER.sub(_mask_query_parameter, masked)
    return url if masked == url else masked


def _mask_query_parameter(match: re.Match[str]) -> str:
    key = match["key"][1:-1]
    secret = is_secret_setting(key) or any(word in key.lower() for word in _SECRET_QUERY_WORDS)
    return f"{match['key']}{URL_PASSWORD_MASK}" if secret and match["value"] else match[0]


def mask_setting(name: str, value: Any, secret_names: Collection[str] = ()) -> Any:
    """The value of a setting as it may be shown.

    Args:
        name: The setting's name.
        value: Its value.
        secret_names: Further names to treat as secret (a class's ``secret_settings``).

    Returns:
        :data:`MASK` for a secret (``None``, ``""`` and booleans unchanged: nothing to
        hide), otherwise ``value`` with URL passwords and secret dict keys masked.
    """
    if name in secret_names or is_secret_setting(name):
        if (
            value is None
            or isinstance(value, bool)
            or (isinstance(value, str | bytes) and not value)
        ):
            return value
        return MASK
    return mask_value(value, secret_names)


def mask_value(value: Any, secret_names: Collection[str] = ()) -> Any:
    """``value`` with what it contains masked: URL passwords, secret keys of dicts.

    Args:
        value: A setting's value, or any nesting of lists, tuples, sets and dicts.
        secret_names: Further dict keys to treat as secret.

    Returns:
        The masked copy, or ``value`` itself (the same object) when nothing was hidden.
    """
    if _is_secret_value(value):
        return MASK
    if isinstance(value, str):
        return mask_url(value)
    if isinstance(value, dict):
        items = {
            key: (
                mask_setting(key, item, secret_names)
                if isinstance(key, str)
                else mask_value(item, secret_names)
            )
            for key, item in value.items()
        }
        same = all(items[key] is item for key, item in value.items())
        return value if same else items
    if type(value) in (list, tuple, set, frozenset):
        masked = [mask_value(item, secret_names) for item in value]
        same = all(new is old for new, old in zip(masked, value, strict=True))
        return value if same else type(value)(masked)
    return value


def mask_validation_error(
    error: ValidationError, data: Any, secret_names: Collection[str] = ()
) -> ValidationError | None:
    """A copy of a settings ``ValidationError`` that shows no secret, if it showed one.

    The input of an error on a secret setting becomes :data:`MASK`, URL passwords in the
    other inputs are masked, and every secret value (and URL password) found in ``data``
    or in the inputs is cut out of the messages, which validators may have written the
    value into. The copy keeps each error's type, location and message; it loses the
    link to pydantic's documentation.

    Args:
        error: What validating ``data`` raised.
        data: What was validated: the settings' values by name.
        secret_names: The secret settings of the class (:func:`secret_setting_names`).

    Returns:
        The masked copy, or None when ``error`` shows nothing secret.
    """
    from pydantic import ValidationError
    from pydantic_core import InitErrorDetails, PydanticCustomError

    hidden: dict[str, str] = {}
    if isinstance(data, dict):
        for key, value in data.items():
            if isinstance(key, str):
                _collect_hidden(value, key in secret_names or is_secret_setting(key), hidden)
    items = error.errors(include_url=False)
    for item in items:
        field = item["loc"][0] if item["loc"] else None
        secret = isinstance(field, str) and (field in secret_names or is_secret_setting(field))
        _collect_hidden(item["input"], secret, hidden)
    changed = False
    details: list[InitErrorDetails] = []
    for item in items:
        field = item["loc"][0] if item["loc"] else None
        if isinstance(field, str) and len(item["loc"]) == 1:
            shown = mask_setting(field, item["input"], secret_names)
        elif isinstance(field, str) and (field in secret_names or is_secret_setting(field)):
            shown = MASK
        else:
            shown = mask_value(item["input"], secret_names)
        message = _scrub(item["msg"], hidden)
        changed = changed or shown is not item["input"] or message != item["msg"]
        details.append(
            {
                "type": PydanticCustomError(item["type"], message),
                "loc": item["loc"],
                "input": shown,
            }
        )
    if not changed:
        return None
    return ValidationError.from_exception_data(error.title, details)


def _collect_hidden(value: Any, secret: bool, hidden: dict[str, str]) -> None:
    """Record in ``hidden`` each text of ``value`` a message must not show, and its mask."""
    for leaf in _leaves(value):
        text = leaf.get_secret_value() if _is_secret_value(leaf) else leaf
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        if not isinstance(text, str | int | float) or isinstance(text, bool):
            continue
        text = str(text)
        if secret or _is_secret_value(leaf):
            if text:
                hidden[text] = MASK
            continue
        masked = mask_url(text)
        if masked is not text:
            hidden[text] = masked
            credentials = _URL_CREDENTIALS.match(text)
            if credentials is not None and credentials["password"]:
                hidden[credentials["password"]] = MASK


def _leaves(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from _leaves(item)
    else:
        yield value


def _scrub(text: str, hidden: dict[str, str]) -> str:
    """``text`` with each hidden value, where it stands as a whole word, replaced."""
    for original in sorted(hidden, key=len, reverse=True):
        if original in text:
            pattern = rf"(?<![A-Za-z0-9]){re.escape(original)}(?![A-Za-z0-9])"
            text = re.sub(pattern, functools.partial(_replacement, hidden[original]), text)
    return text


def _replacement(shown: str, match: re.Match[str]) -> str:
    return shown


def _is_secret_value(value: Any) -> bool:
    from pydantic import SecretBytes, SecretStr

    return isinstance(value, SecretStr | SecretBytes)


def _is_secret_type(annotation: Any) -> bool:
    """Whether a field's type is ``SecretStr``/``SecretBytes``, maybe in a union."""
    from pydantic import SecretBytes, SecretStr

    if annotation in (SecretStr, SecretBytes):
        return True
    return any(_is_secret_type(arg) for arg in get_args(annotation)) if annotation else False


__all__ = [
    "MASK",
    "SECRET_NAME_ENDINGS",
    "check_secret_settings",
    "declared_secret_settings",
    "is_secret_setting",
    "mask_setting",
    "mask_url",
    "mask_validation_error",
    "mask_value",
    "secret_setting_names",
]
