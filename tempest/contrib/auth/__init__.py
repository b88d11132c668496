"""tempest.contrib.auth: users, sign-in and the commands that manage them.

Add ``"tempest.contrib.auth"`` to INSTALLED_APPS (new projects have it). The user model is
``AUTH_USER_MODEL`` (default ``"auth.User"``); :func:`get_user_model` returns it.
"""

from tempest.contrib.auth.users import get_user_model

__all__ = ["get_user_model"]
