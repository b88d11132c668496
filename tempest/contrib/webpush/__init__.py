"""tempest.contrib.webpush: browsers' push subscriptions, stored per user, and sending to them.

Add ``"tempest.contrib.webpush"`` to INSTALLED_APPS (after ``"tempest.contrib.auth"``), set
``VAPID_PRIVATE_KEY`` / ``VAPID_PUBLIC_KEY`` (``python manage.py webpush keys`` prints a
pair) and run ``python manage.py migrate``. The app serves, under ``/api/webpush``:

- ``GET /vapid-public-key``: the key the browser subscribes with;
- ``POST /subscriptions``: store the signed-in user's subscription (idempotent on the
  endpoint);
- ``DELETE /subscriptions``: remove it.

:func:`send_to_user` sends a message to every subscription of a user and deletes the ones
the push service says are gone (404/410).
"""

from typing import TYPE_CHECKING, Any

from tempest.utils.imports import lazy_attributes

_LAZY: dict[str, str] = {
    "send_to_user": "tempest.contrib.webpush.sending",
    "get_dispatcher": "tempest.contrib.webpush.sending",
    "WebPushSendReport": "tempest.contrib.webpush.sending",
}

__all__ = [*_LAZY]

_load = lazy_attributes(__name__, _LAZY)


def __getattr__(name: str) -> Any:
    return _load(name)


if TYPE_CHECKING:  # pragma: no cover - the table's names, for type checkers and IDEs
    from tempest.contrib.webpush.sending import (
        WebPushSendReport as WebPushSendReport,
        get_dispatcher as get_dispatcher,
        send_to_user as send_to_user,
    )
