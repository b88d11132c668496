"""Pure ASGI middleware shipped with tempest."""

from tempest.api.middleware.cors import CORSMiddleware, apply_cors
from tempest.api.middleware.request_id import RequestIDMiddleware

__all__ = ["CORSMiddleware", "RequestIDMiddleware", "apply_cors"]
