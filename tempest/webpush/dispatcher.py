"""``WebPushDispatcher``: sends encrypted push messages with VAPID, asynchronously."""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import re
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from tempest.webpush.encryption import check_payload_size, encrypt_payload
from tempest.webpush.errors import (
    WebPushError,
    WebPushGoneError,
    WebPushPayloadTooLargeError,
    WebPushRateLimitedError,
)
from tempest.webpush.schemas import (
    WebPushPayloadSchema,
    WebPushSubscriptionSchema,
)
from tempest.webpush.vapid import VapidSigner

if TYPE_CHECKING:
    import httpx

__all__ = ["Payload", "Urgency", "WebPushDispatcher"]

logger = logging.getLogger("tempest.webpush")

Urgency = Literal["very-low", "low", "normal", "high"]
"""RFC 8030 §5.3: lets the push service save the device's battery for unhurried messages."""

Payload = WebPushPayloadSchema | BaseModel | Mapping[str, Any] | str | bytes | None
"""What :meth:`WebPushDispatcher.send` accepts: a schema or mapping (sent as JSON), text
(UTF-8), bytes, or None for a message without data."""

_TOPIC = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_URGENCIES = ("very-low", "low", "normal", "high")


def _body_of(payload: Payload) -> bytes:
    if payload is None:
        return b""
    if isinstance(payload, WebPushPayloadSchema):
        return payload.to_bytes()
    if isinstance(payload, BaseModel):
        return payload.model_dump_json(exclude_none=True).encode()
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, str):
        return payload.encode()
    return json.dumps(dict(payload), separators=(",", ":")).encode()


def _check_ttl(ttl_seconds: int) -> int:
    if isinstance(ttl_seconds, bool) or not isinstance(ttl_seconds, int) or ttl_seconds < 1:
        raise ValueError(
            f"ttl_seconds must be a whole number of seconds >= 1, not {ttl_seconds!r}: with "
            "TTL 0 a push service drops the message unless the device is online right now"
        )
    return ttl_seconds


def _check_topic(topic: str) -> str:
    if not _TOPIC.fullmatch(topic):
        raise ValueError(
            "topic must be 1-32 characters of the URL-safe base64 alphabet "
            f"(A-Z a-z 0-9 - _), not {topic!r}"
        )
    return topic


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class WebPushDispatcher:
    """Sends Web Push messages: aes128gcm-encrypted, VAPID-signed, over ``httpx``.

    Everything runs on the event loop: no thread per message. VAPID tokens are signed once
    per push service (audience) and reused until they near expiry. The HTTP client is
    created on first use, in the running loop; close it with :meth:`aclose` (or use the
    dispatcher as an ``async with`` block).

    Args:
        vapid_private_key: ``VAPID_PRIVATE_KEY`` (URL-safe base64 of the 32-byte key, or
            PEM).
        vapid_subject: A contact for the push services: ``mailto:ops@example.com`` or an
            ``https:`` URL.
        ttl_seconds: How long the push service keeps an undelivered message (default 24
            hours; never 0, which drops it unless the device is online).
        vapid_public_key: ``VAPID_PUBLIC_KEY``; checked against the private key when given.
        urgency: Default ``Urgency`` header (``very-low``, ``low``, ``normal``, ``high``);
            None sends none (the service treats it as ``normal``).
        concurrency: How many messages :meth:`send_many` keeps in flight at once.
        timeout_seconds: Per request (connect, write, read).
        vapid_token_lifetime_seconds: How long each VAPID token is valid (at most 24 h).
        client: An ``httpx.AsyncClient`` to send with (not closed by :meth:`aclose`).

    Raises:
        WebPushError: The VAPID key or subject is invalid, or the keys do not match.
        ValueError: ``ttl_seconds``, ``urgency`` or ``concurrency`` is invalid.

    Example:
        >>> dispatcher = WebPushDispatcher(
        ...     settings.VAPID_PRIVATE_KEY, vapid_subject="mailto:ops@example.com"
        ... )  # doctest: +SKIP
        >>> await dispatcher.send(subscription, WebPushPayloadSchema(title="Hi"))  # doctest: +SKIP
    """

    def __init__(
        self,
        vapid_private_key: str,
        *,
        vapid_subject: str,
        ttl_seconds: int = 86_400,
        vapid_public_key: str | None = None,
        urgency: Urgency | None = None,
        concurrency: int = 32,
        timeout_seconds: float = 10.0,
        vapid_token_lifetime_seconds: int = 12 * 3600,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.ttl_seconds = _check_ttl(ttl_seconds)
        self.urgency = self._check_urgency(urgency)
        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, not {concurrency}")
        self.concurrency = concurrency
        self.timeout_seconds = timeout_seconds
        self.vapid = VapidSigner(
            vapid_private_key,
            vapid_subject,
            lifetime_seconds=vapid_token_lifetime_seconds,
            public_key=vapid_public_key,
        )
        self._client = client
        self._owns_client = client is None

    @classmethod
    def from_settings(cls, settings: Any = None, **options: Any) -> WebPushDispatcher:
        """A dispatcher configured from ``VAPID_*`` and ``WEBPUSH_DEFAULT_TTL_SECONDS``.

        Args:
            settings: A settings object; default the project's.
            **options: Other constructor arguments (``concurrency``, ``urgency``...).
        """
        if settings is None:
            from tempest.conf import settings as project_settings

            settings = project_settings
        values: dict[str, Any] = {
            "vapid_subject": settings.VAPID_SUBJECT,
            "vapid_public_key": settings.VAPID_PUBLIC_KEY or None,
            "ttl_seconds": settings.WEBPUSH_DEFAULT_TTL_SECONDS,
        }
        return cls(settings.VAPID_PRIVATE_KEY, **(values | options))

    @property
    def vapid_public_key(self) -> str:
        """The public key browsers subscribe with (``applicationServerKey``)."""
        return self.vapid.public_key

    @staticmethod
    def _check_urgency(urgency: str | None) -> Urgency | None:
        if urgency is not None and urgency not in _URGENCIES:
            raise ValueError(f"urgency must be one of {', '.join(_URGENCIES)}, not {urgency!r}")
        return urgency  # type: ignore[return-value]

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            try:
                import httpx
            except ImportError as error:  # pragma: no cover - the extra is installed in tests
                raise ImportError(
                    'Web Push needs httpx: pip install "tempest-framework[webpush]"'
                ) from error
            self._client = httpx.AsyncClient(
                timeout=self.timeout_seconds,
                limits=httpx.Limits(max_connections=max(self.concurrency, 10)),
                follow_redirects=False,
            )
        return self._client

    async def aclose(self) -> None:
        """Close the HTTP client this dispatcher created (a given client stays open)."""
        if self._client is not None and self._owns_client:
            await self._client.aclose()
            self._client = None

    async def __aenter__(self) -> WebPushDispatcher:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def _headers(
        self,
        subscription: WebPushSubscriptionSchema,
        *,
        encrypted: bool,
        ttl_seconds: int | None,
        urgency: Urgency | None,
        topic: str | None,
    ) -> dict[str, str]:
        headers = {
            "TTL": str(_check_ttl(self.ttl_seconds if ttl_seconds is None else ttl_seconds)),
            "Authorization": self.vapid.authorization(subscription.audience),
        }
        if encrypted:
            headers["Content-Encoding"] = "aes128gcm"
            headers["Content-Type"] = "application/octet-stream"
        chosen = self._check_urgency(urgency) or self.urgency
        if chosen is not None:
            headers["Urgency"] = chosen
        if topic is not None:
            headers["Topic"] = _check_topic(topic)
        return headers

    async def send(
        self,
        subscription: WebPushSubscriptionSchema | Mapping[str, Any],
        payload: Payload = None,
        *,
        ttl_seconds: int | None = None,
        urgency: Urgency | None = None,
        topic: str | None = None,
    ) -> int:
        """Send one message; returns the push service's status (201 when accepted).

        Args:
            subscription: The browser's subscription (a schema, or its JSON as a dict).
            payload: The message (see :data:`Payload`); encrypted for the subscription.
            ttl_seconds: This message's TTL instead of the dispatcher's.
            urgency: This message's ``Urgency`` instead of the dispatcher's.
            topic: A ``Topic``: an undelivered message with the same topic is replaced.

        Raises:
            WebPushGoneError: 404/410: the subscription is gone; delete it.
            WebPushPayloadTooLargeError: The payload is above 3993 bytes (checked before
                sending) or the service answered 413.
            WebPushRateLimitedError: 429; ``retry_after`` says how long to wait.
            WebPushError: Any other refusal, or the service could not be reached.
        """
        if not isinstance(subscription, WebPushSubscriptionSchema):
            subscription = WebPushSubscriptionSchema.model_validate(subscription)
        return await self._send(
            subscription, _body_of(payload), ttl_seconds=ttl_seconds, urgency=urgency, topic=topic
        )

    async def _send(
        self,
        subscription: WebPushSubscriptionSchema,
        plaintext: bytes,
        *,
        ttl_seconds: int | None,
        urgency: Urgency | None,
        topic: str | None,
    ) -> int:
        endpoint = subscription.endpoint
        content = (
            encrypt_payload(plaintext, subscription.keys, endpoint=endpoint) if plaintext else b""
        )
        headers = self._headers(
            subscription,
            encrypted=bool(content),
            ttl_seconds=ttl_seconds,
            urgency=urgency,
            topic=topic,
        )
        import httpx

        try:
            response = await self._http().post(endpoint, content=content, headers=headers)
        except httpx.HTTPError as error:
            raise WebPushError(
                f"Could not reach the push service {subscription.audience}: "
                f"{type(error).__name__}: {error}",
                endpoint=endpoint,
            ) from error
        status = response.status_code
        if 200 <= status < 300:
            return status
        reason = response.text[:300]
        if status in (404, 410):
            raise WebPushGoneError(
                f"The subscription is gone ({status}): delete it",
                **self._info(endpoint, status, reason),
            )
        if status == 413:
            raise WebPushPayloadTooLargeError(
                f"The push service refused the {len(content)}-byte message as too large (413)",
                **self._info(endpoint, status, reason),
            )
        if status == 429:
            retry_after = _retry_after(response.headers.get("Retry-After"))
            wait = f" (Retry-After: {retry_after:g} s)" if retry_after is not None else ""
            raise WebPushRateLimitedError(
                f"The push service is rate limiting this server (429){wait}",
                retry_after=retry_after,
                **self._info(endpoint, status, reason),
            )
        hint = " (VAPID key or token refused)" if status in (401, 403) else ""
        raise WebPushError(
            f"The push service answered {status}{hint}: {reason or response.reason_phrase}",
            **self._info(endpoint, status, reason),
        )

    @staticmethod
    def _info(endpoint: str, status: int, reason: str) -> dict[str, Any]:
        return {"endpoint": endpoint, "status_code": status, "reason": reason}

    async def send_many(
        self,
        subscriptions: Iterable[WebPushSubscriptionSchema | Mapping[str, Any]],
        payload: Payload = None,
        *,
        ttl_seconds: int | None = None,
        urgency: Urgency | None = None,
        topic: str | None = None,
        concurrency: int | None = None,
    ) -> list[str]:
        """Send one message to many subscriptions, at most ``concurrency`` at a time.

        A failure other than a gone subscription is logged (logger ``tempest.webpush``)
        and does not stop the others.

        Args:
            subscriptions: The subscriptions.
            payload: The message, encoded once and encrypted for each subscription.
            ttl_seconds: See :meth:`send`.
            urgency: See :meth:`send`.
            topic: See :meth:`send`.
            concurrency: Messages in flight at once (default: the dispatcher's).

        Returns:
            The endpoints answered 404/410: delete those subscriptions.

        Raises:
            WebPushPayloadTooLargeError: The payload is above 3993 bytes (nothing is sent).
            ValueError: ``ttl_seconds``, ``urgency``, ``topic`` or ``concurrency`` is invalid.
        """
        limit = self.concurrency if concurrency is None else concurrency
        if limit < 1:
            raise ValueError(f"concurrency must be >= 1, not {limit}")
        # Options and size are the same for every message: refuse them once, up front.
        if ttl_seconds is not None:
            _check_ttl(ttl_seconds)
        self._check_urgency(urgency)
        if topic is not None:
            _check_topic(topic)
        plaintext = _body_of(payload)
        if plaintext:
            check_payload_size(plaintext)
        pending = iter(list(subscriptions))
        gone: list[str] = []

        async def worker() -> None:
            for item in pending:
                endpoint = str(getattr(item, "endpoint", None) or dict(item).get("endpoint"))
                try:
                    sub = (
                        item
                        if isinstance(item, WebPushSubscriptionSchema)
                        else WebPushSubscriptionSchema.model_validate(item)
                    )
                    await self._send(
                        sub, plaintext, ttl_seconds=ttl_seconds, urgency=urgency, topic=topic
                    )
                except WebPushGoneError:
                    gone.append(endpoint)
                except (WebPushError, ValueError) as error:
                    logger.warning("Web Push to %s failed: %s", endpoint, error)

        await asyncio.gather(*(worker() for _ in range(limit)))
        return gone
