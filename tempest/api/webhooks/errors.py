"""The error every webhook verifier raises: :class:`WebhookSignatureError` (400)."""

from __future__ import annotations

from tempest.exceptions.base import AppException

__all__ = ["WebhookSignatureError"]


class WebhookSignatureError(AppException):
    """A webhook delivery whose signature headers do not prove who sent it (400).

    The API answers it with the error envelope: ``code`` is ``INVALID_WEBHOOK_SIGNATURE``
    and ``details["reason"]`` says which check failed, one of ``missing_header``,
    ``malformed_header``, ``header_too_long``, ``wrong_prefix``, ``bad_encoding``,
    ``stale_timestamp``, ``future_timestamp``, ``replayed`` or ``mismatch``. The message
    never contains the expected signature.
    """

    message = "The webhook signature could not be verified."
    code = "INVALID_WEBHOOK_SIGNATURE"
    status_code = 400

    def __init__(self, reason: str, message: str, *, header: str | None = None) -> None:
        """Build the error.

        Args:
            reason: Which check failed (see the class docstring).
            message: What was wrong, for a human reading the sender's delivery log.
            header: The header at fault, added to ``details`` when given.
        """
        details: dict[str, str] = {"reason": reason}
        if header is not None:
            details["header"] = header
        super().__init__(message, details=details)
        self.reason = reason
