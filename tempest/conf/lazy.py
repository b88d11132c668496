"""The lazy ``settings`` object and ``override_settings``."""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import import_module
from typing import TYPE_CHECKING, Any, TypeVar, cast

from tempest.exceptions.framework import ImproperlyConfigured

if TYPE_CHECKING:
    from pydantic import ValidationError

    from tempest.conf.base import Settings

from tempest.conf.environ import ENVIRONMENT_VARIABLE

_F = TypeVar("_F", bound=Callable[..., Any])


_FIX_IN_ENVIRONMENT = "Fix them in .env or the environment."


def describe_validation_error(
    error: ValidationError, title: str, fix: str = _FIX_IN_ENVIRONMENT
) -> str:
    """Render a settings ValidationError as one line that names each bad field.

    Args:
        error: The error raised while building the settings.
        title: Name of the settings class or module, for the message.
        fix: The sentence that says where to fix the values.

    Returns:
        For example ``Invalid settings in shop.settings: SERVER_PORT='abc' (Input should
        be a valid integer). Fix them in .env or the environment.`` The value of a secret
        setting shows as ``'********'``, a URL's password masked.
    """
    from tempest.conf.masking import MASK, is_secret_setting, mask_setting

    problems = []
    for item in error.errors(include_url=False):
        field = ".".join(str(part) for part in item["loc"]) or "settings"
        top = str(item["loc"][0]) if item["loc"] else ""
        if len(item["loc"]) > 1 and is_secret_setting(top):
            value: object = MASK  # a part of a secret is secret
        else:
            value = mask_setting(top, item.get("input"))
        shown = "" if isinstance(value, dict) else f"={value!r}"
        problems.append(f"{field}{shown} ({item['msg']})")
    return f"Invalid settings in {title}: {'; '.join(problems)}. {fix}"


def load_settings_module(module_name: str) -> Settings:
    """Import a settings module and return its ``settings`` instance.

    Args:
        module_name: Dotted module path, e.g. ``shop.settings``.

    Returns:
        The module's ``settings`` object.

    Raises:
        ImproperlyConfigured: The module cannot be imported, its values do not validate, or
            it has no ``settings`` instance of :class:`tempest.conf.Settings`.
    """
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    from tempest.conf.base import Settings

    try:
        module = import_module(module_name)
    except ValidationError as error:
        raise ImproperlyConfigured(describe_validation_error(error, module_name)) from error
    except SettingsError as error:
        raise ImproperlyConfigured(
            f"Invalid settings in {module_name}: {error}. List and dict values in .env or "
            """the environment are JSON, e.g. CORS_ORIGINS='["https://example.com"]'."""
        ) from error
    except ModuleNotFoundError as error:
        if error.name is not None and module_name.startswith(error.name):
            raise ImproperlyConfigured(
                f"{ENVIRONMENT_VARIABLE}={module_name!r}: no such module. Run the command "
                "from the project directory, or fix the value (e.g. 'shop.settings')."
            ) from error
        raise
    value = getattr(module, "settings", None)
    if not isinstance(value, Settings):
        raise ImproperlyConfigured(
            f"{module_name} must define `settings = <YourSettings>()`, an instance of a "
            "subclass of tempest.conf.Settings."
        )
    return value


class LazySettings:
    """Proxy to the project's settings, loaded on first attribute access.

    The settings module is named by the ``TEMPEST_SETTINGS_MODULE`` environment variable
    (``manage.py`` sets it; ``--settings`` overrides it), or given with :meth:`configure`.
    """

    def __init__(self) -> None:
        self._wrapped: Settings | None = None

    def _setup(self) -> Settings:
        module_name = os.environ.get(ENVIRONMENT_VARIABLE)
        if not module_name:
            raise ImproperlyConfigured(
                f"Settings are not configured: set {ENVIRONMENT_VARIABLE} (e.g. "
                "'shop.settings'), run through the project's manage.py, or call "
                "tempest.conf.settings.configure(...)."
            )
        self._wrapped = load_settings_module(module_name)
        return self._wrapped

    @property
    def configured(self) -> bool:
        """Whether the settings have been loaded or configured."""
        return self._wrapped is not None

    def configure(self, value: Settings) -> None:
        """Use ``value`` as the settings instead of importing a module.

        Args:
            value: A settings instance.
        """
        self._wrapped = value

    def unwrap(self) -> Settings:
        """Return the real settings object, loading it if needed."""
        return self._wrapped if self._wrapped is not None else self._setup()

    def reset(self) -> None:
        """Forget the loaded settings; the next access loads them again."""
        self._wrapped = None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.unwrap(), name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "_wrapped":
            object.__setattr__(self, name, value)
            return
        raise AttributeError(
            "Settings are read-only while the process runs; use override_settings() in tests."
        )

    def __repr__(self) -> str:
        if self._wrapped is None:
            return "<LazySettings: not loaded>"
        return f"<LazySettings: {type(self._wrapped).__module__}.{type(self._wrapped).__name__}>"


settings = cast("Settings", LazySettings())
"""The project's settings. Typed as :class:`Settings`; it is a :class:`LazySettings`."""


def _proxy() -> LazySettings:
    return cast(LazySettings, settings)


class override_settings:
    """Temporarily replace settings values, as a context manager or a decorator.

    The new values are validated like the originals::

        with override_settings(DEBUG=True):
            ...

        @override_settings(TITLE="Test")
        async def test_title() -> None: ...

    Args:
        **values: Field names and their temporary values.
    """

    def __init__(self, **values: Any) -> None:
        self.values = values

    @contextmanager
    def _applied(self) -> Iterator[None]:
        from pydantic import ValidationError

        proxy = _proxy()
        original = proxy.unwrap()
        unknown = sorted(set(self.values) - set(type(original).model_fields))
        if unknown:
            raise ImproperlyConfigured(
                f"override_settings: unknown setting(s) {', '.join(unknown)} on "
                f"{type(original).__name__}."
            )
        data = {**original.model_dump(), **self.values}
        try:
            replaced = type(original).model_validate(data)
        except ValidationError as error:
            raise ImproperlyConfigured(
                describe_validation_error(
                    error, "override_settings", "Fix the values passed to override_settings()."
                )
            ) from error
        proxy.configure(replaced)
        try:
            yield
        finally:
            proxy.configure(original)

    def __enter__(self) -> None:
        self._context = self._applied()
        self._context.__enter__()

    def __exit__(self, *exc_info: object) -> None:
        self._context.__exit__(*exc_info)  # type: ignore[arg-type]

    def __call__(self, func: _F) -> _F:
        """Decorate a sync or async function so that it runs with the overrides."""
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                with self._applied():
                    return await func(*args, **kwargs)

            return cast(_F, async_wrapper)

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self._applied():
                return func(*args, **kwargs)

        return cast(_F, wrapper)
