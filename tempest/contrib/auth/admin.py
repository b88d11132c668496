"""The user model in the admin, when it is tempest's own ``auth.User``.

A project with its own user model (``AUTH_USER_MODEL``) registers it in its app's
admin.py. Users are created with ``manage.py createsuperuser`` / ``user create`` or the
signup API, which hash the password; the admin edits and deactivates them.
"""

from tempest.contrib.admin import AdminModel, site
from tempest.contrib.auth.users import DEFAULT_USER_MODEL, configured_user_model

if configured_user_model() == DEFAULT_USER_MODEL:
    from tempest.contrib.auth.models import User

    site.register(
        AdminModel(
            model=User,
            list_display=[User.email, User.is_admin, User.is_active, User.last_login_at],
            list_filter=[User.is_active, User.is_admin],
            search_fields=[User.email],
            readonly_fields=[User.last_login_at, User.mfa_enabled],
            # Never shown, edited or exported: a hash or a TOTP secret must not leak, and
            # session_version only moves up (unticking is_active raises it).
            exclude=[
                User.hashed_password,
                User.mfa_secret,
                User.mfa_last_used_step,
                User.session_version,
            ],
            ordering="-created_at",
            can_create=False,
        )
    )
