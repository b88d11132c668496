"""Pure ASGI middleware shipped with tempest."""

from tempest.api.middleware.body_limit import BodySizeLimitMiddleware
from tempest.api.middleware.cors import CORSMiddleware, apply_cors
from tempest.api.middleware.hosts import AllowedHostsMiddleware
from tempest.api.middleware.request_id import RequestIDMiddleware

__all__ = [
    "AllowedHostsMiddleware",
    "BodySizeLimitMiddleware",
    "CORSMiddleware",
    "RequestIDMiddleware",
    "apply_cors",
]
