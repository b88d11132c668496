"""Registering and running system checks."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, overload

from tempest.core.checks.messages import CheckMessage

CheckFunction = Callable[..., Sequence[CheckMessage]]
_C = TypeVar("_C", bound=CheckFunction)


class Tags:
    """Built-in check tags."""

    settings = "settings"
    security = "security"
    apps = "apps"
    models = "models"
    urls = "urls"
    database = "database"


@dataclass
class _Registered:
    function: CheckFunction
    tags: frozenset[str]
    deploy: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


class CheckRegistry:
    """Holds the registered check functions."""

    def __init__(self) -> None:
        self._checks: list[_Registered] = []

    @overload
    def register(self, check: _C, /, *tags: str, deploy: bool = False) -> _C: ...

    @overload
    def register(self, *tags: str, deploy: bool = False) -> Callable[[_C], _C]: ...

    def register(self, *args: Any, deploy: bool = False) -> Any:
        """Register a check, as ``@register_check`` or ``@register_check("tag", ...)``.

        A check is a function ``(app_configs, **kwargs) -> list[CheckMessage]``;
        ``app_configs`` is None for every app, or the apps the user named.

        Args:
            *args: The function itself, or tag names.
            deploy: Run only with ``check --deploy``.
        """

        def decorator(function: _C, tags: Sequence[str]) -> _C:
            if not any(item.function is function for item in self._checks):
                self._checks.append(_Registered(function, frozenset(tags), deploy))
            return function

        if args and callable(args[0]):
            return decorator(args[0], [str(tag) for tag in args[1:]])
        tags = [str(tag) for tag in args]
        return lambda function: decorator(function, tags)

    def run_checks(
        self,
        app_configs: Sequence[Any] | None = None,
        tags: Iterable[str] | None = None,
        include_deployment_checks: bool = False,
        silenced: Iterable[str] = (),
    ) -> list[CheckMessage]:
        """Run the registered checks.

        Args:
            app_configs: Restrict app-level checks to these apps.
            tags: Run only checks with one of these tags.
            include_deployment_checks: Also run the checks registered with ``deploy=True``.
            silenced: Message ids to drop (SILENCED_SYSTEM_CHECKS).

        Returns:
            Every message, silenced ones removed.
        """
        wanted = set(tags) if tags else None
        silenced_ids = set(silenced)
        messages: list[CheckMessage] = []
        for item in self._checks:
            if item.deploy and not include_deployment_checks:
                continue
            if wanted is not None and not wanted & item.tags:
                continue
            found = item.function(app_configs=app_configs)
            if not isinstance(found, list | tuple):
                raise TypeError(
                    f"System check {item.function.__qualname__} must return a list of "
                    f"CheckMessage, not {type(found).__name__}."
                )
            messages.extend(message for message in found if message.id not in silenced_ids)
        return messages

    def tags_available(self, deploy: bool = False) -> set[str]:
        """Every tag in use."""
        return {tag for item in self._checks if deploy or not item.deploy for tag in item.tags}


registry = CheckRegistry()
register_check = registry.register
run_checks = registry.run_checks
