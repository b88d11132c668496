"""FastAPI dependencies that protect routes: shared-secret header, bearer JWT, roles."""

from tempest.api.dependencies.bearer import (
    UserLoader,
    bearer_scheme,
    make_bearer_token_dependency,
    make_jwt_user_dependency,
)
from tempest.api.dependencies.grants import make_permission_dependency, make_role_dependency
from tempest.api.dependencies.x_token import (
    X_TOKEN_HEADER,
    make_token_dependency,
    require_x_token,
)

__all__ = [
    "X_TOKEN_HEADER",
    "UserLoader",
    "bearer_scheme",
    "make_bearer_token_dependency",
    "make_jwt_user_dependency",
    "make_permission_dependency",
    "make_role_dependency",
    "make_token_dependency",
    "require_x_token",
]
