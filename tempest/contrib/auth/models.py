"""The default user model and its token tables.

They exist only while ``AUTH_USER_MODEL`` is ``"auth.User"``: a project with its own user
model defines these tables in its app with the factories of
:mod:`tempest.contrib.auth.base`.
"""

from tempest.contrib.auth.base import (
    BaseUserModel,
    MFAMixin,
    make_user_recovery_code_model,
    make_user_refresh_token_model,
    make_user_token_model,
)
from tempest.contrib.auth.oauth_models import make_user_oauth_account_model
from tempest.contrib.auth.users import DEFAULT_USER_MODEL, configured_user_model

__all__: list[str] = []

if configured_user_model() == DEFAULT_USER_MODEL:

    class User(BaseUserModel, MFAMixin):
        """A user of the project: the default ``AUTH_USER_MODEL``."""

        __tablename__ = "auth_user"

    UserToken = make_user_token_model(User)
    UserRecoveryCode = make_user_recovery_code_model(User)
    UserRefreshToken = make_user_refresh_token_model(User)
    UserOAuthAccount = make_user_oauth_account_model(User)

    __all__ += ["User", "UserOAuthAccount", "UserRecoveryCode", "UserRefreshToken", "UserToken"]
