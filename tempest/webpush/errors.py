"""The errors a Web Push send raises: one base class and what the caller acts on."""

from __future__ import annotations

__all__ = [
    "WebPushError",
    "WebPushGoneError",
    "WebPushPayloadTooLargeError",
    "WebPushRateLimitedError",
]


class WebPushError(Exception):
    """A push message was not accepted by the push service.

    Attributes:
        endpoint: The subscription's endpoint (None when the message was refused before
            any request, e.g. an invalid VAPID key).
        status_code: The push service's HTTP status, or None when there was no answer
            (connection refused, timeout) or no request.
        reason: The start of the push service's answer, for the logs.
    """

    def __init__(
        self,
        message: str,
        *,
        endpoint: str | None = None,
        status_code: int | None = None,
        reason: str = "",
    ) -> None:
        super().__init__(message)
        self.endpoint = endpoint
        self.status_code = status_code
        self.reason = reason


class WebPushGoneError(WebPushError):
    """The subscription no longer exists (HTTP 404 or 410): delete it from your store.

    Browsers drop subscriptions when the user revokes the permission, clears the site's
    data or the subscription expires; sending to it again will never succeed.
    """


class WebPushPayloadTooLargeError(WebPushError):
    """The encrypted message is above the 4096 bytes every push service must accept.

    Raised before sending when the encrypted body is too large, and on an HTTP 413 answer.
    Send less (an id the service worker fetches details for) instead of the whole object.
    """


class WebPushRateLimitedError(WebPushError):
    """The push service asked to slow down (HTTP 429).

    Attributes:
        retry_after: Seconds the service asked to wait before sending again (its
            ``Retry-After`` header), or None when it did not say.
    """

    def __init__(
        self,
        message: str,
        *,
        endpoint: str | None = None,
        status_code: int | None = 429,
        reason: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, endpoint=endpoint, status_code=status_code, reason=reason)
        self.retry_after = retry_after
