"""The authentication dependency factories, under the module name projects import them from.

Each concept lives in its own module: :mod:`~tempest.api.dependencies.x_token` (the shared
secret header), :mod:`~tempest.api.dependencies.bearer` (JWT claims and the current user)
and :mod:`~tempest.api.dependencies.grants` (roles and permissions).
"""

from tempest.api.dependencies.bearer import make_bearer_token_dependency, make_jwt_user_dependency
from tempest.api.dependencies.grants import make_permission_dependency, make_role_dependency
from tempest.api.dependencies.x_token import make_token_dependency, require_x_token

__all__ = [
    "make_bearer_token_dependency",
    "make_jwt_user_dependency",
    "make_permission_dependency",
    "make_role_dependency",
    "make_token_dependency",
    "require_x_token",
]
