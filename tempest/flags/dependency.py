"""A FastAPI dependency that gates a route on a flag: :func:`make_flag_dependency`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from tempest.exceptions import NotFoundException
from tempest.flags.feature_flags import FeatureFlags
from tempest.flags.state import check_flag_name

__all__ = ["FeatureDisabledException", "make_flag_dependency"]


class FeatureDisabledException(NotFoundException):
    """The route is behind a flag that is off for this request (404: it does not exist)."""

    message = "Not found: this feature is not enabled."
    code = "FEATURE_DISABLED"


def make_flag_dependency(
    flags: FeatureFlags | str,
    name: str | None = None,
    *,
    subject: Callable[..., Any] | None = None,
    required: bool = True,
) -> Callable[..., Awaitable[bool]]:
    """Build a dependency that evaluates flag ``name`` for the request.

    ``make_flag_dependency("new-checkout")`` reads the project's flags (those the app's
    lifespan started, :func:`tempest.flags.get_flags`); ``make_flag_dependency(flags,
    "new-checkout")`` reads the :class:`FeatureFlags` given.

    Example:
        ```python
        beta = make_flag_dependency("beta-search", subject=current_user_id)

        @router.get("/search", dependencies=[Depends(beta)])
        async def search(q: str) -> list[Result]: ...
        ```

    Args:
        flags: The flags to read, or the flag's name (then the project's flags).
        name: The flag, when ``flags`` is a :class:`FeatureFlags`.
        subject: A dependency returning the request's subject (a user id, a tenant):
            what a percentage rollout is keyed by. Without it, a partial rollout is off.
        required: True: the dependency answers 404 (``FEATURE_DISABLED``) when the flag
            is off, as if the route did not exist. False: it returns the flag as a bool
            for the route to branch on.

    Returns:
        An async dependency returning whether the flag is on.

    Raises:
        InvalidFlagError: The name is not a valid flag name.
        TypeError: The arguments are not a name, or a FeatureFlags and a name.
    """
    source: FeatureFlags | None
    if isinstance(flags, str) and name is None:
        source, flag = None, flags
    elif isinstance(flags, FeatureFlags) and isinstance(name, str):
        source, flag = flags, name
    else:
        raise TypeError(
            "make_flag_dependency takes a flag name, or a FeatureFlags and a flag name: "
            "make_flag_dependency('new-checkout') or make_flag_dependency(flags, 'new-checkout')"
        )
    check_flag_name(flag)

    def evaluate(who: object) -> bool:
        current = source if source is not None else _project_flags()
        enabled = current.is_enabled(flag, who)
        if required and not enabled:
            raise FeatureDisabledException(details={"flag": flag})
        return enabled

    if subject is None:

        async def flag_dependency() -> bool:
            return evaluate(None)

        return flag_dependency

    from fastapi import Depends

    async def flag_dependency_for_subject(who: Any = Depends(subject)) -> bool:
        return evaluate(who)

    return flag_dependency_for_subject


def _project_flags() -> FeatureFlags:
    from tempest.flags.project import get_flags

    return get_flags()
