"""The browser's push subscription and the notification payload, as pydantic schemas."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from typing import Any
from urllib.parse import urlsplit

from pydantic import ConfigDict, Field, field_validator

from tempest.schemas.base import BaseSchema

__all__ = [
    "MAX_ENDPOINT_LENGTH",
    "WebPushKeysSchema",
    "WebPushPayloadSchema",
    "WebPushSubscriptionSchema",
    "b64url_decode",
    "b64url_encode",
]

MAX_ENDPOINT_LENGTH = 2048
"""Longest endpoint accepted; real push services' endpoints are a few hundred characters."""

_B64URL = re.compile(r"^[A-Za-z0-9_-]*={0,2}$")
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


def b64url_encode(raw: bytes) -> str:
    """URL-safe base64 without padding, as browsers and VAPID use it."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode URL-safe base64, padded or not.

    Raises:
        ValueError: ``text`` holds characters outside the URL-safe alphabet or is not
            valid base64.
    """
    if not _B64URL.fullmatch(text):
        raise ValueError("must be URL-safe base64 (A-Z, a-z, 0-9, '-', '_')")
    stripped = text.rstrip("=")
    try:
        return base64.urlsafe_b64decode(stripped + "=" * (-len(stripped) % 4))
    except (binascii.Error, ValueError) as error:
        raise ValueError("must be URL-safe base64") from error


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _is_own_network(host: str) -> bool:
    """A loopback name, or an IP address that is not a public one.

    Host names are not resolved here (DNS may answer differently when the message is sent):
    push services are public host names, and a deployment that must also stop names that
    resolve inside its network does so at its egress proxy or firewall.
    """
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not address.is_global


def _debug() -> bool:
    """``settings.DEBUG``, False when no settings are configured."""
    from tempest.conf import ImproperlyConfigured, settings

    try:
        return bool(getattr(settings, "DEBUG", False))
    except ImproperlyConfigured:
        return False


class WebPushKeysSchema(BaseSchema):
    """The subscription's keys: the browser's ECDH public key and its auth secret.

    Attributes:
        p256dh: The user agent's P-256 public key, uncompressed (65 bytes), URL-safe base64.
        auth: The 16-byte authentication secret, URL-safe base64.
    """

    p256dh: str = Field(min_length=1, max_length=128)
    auth: str = Field(min_length=1, max_length=64)

    @field_validator("p256dh")
    @classmethod
    def _check_p256dh(cls, value: str) -> str:
        raw = b64url_decode(value)
        if len(raw) != 65 or raw[0] != 0x04:
            raise ValueError("must be an uncompressed P-256 public key (65 bytes, 0x04 first)")
        from cryptography.hazmat.primitives.asymmetric import ec

        try:
            ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
        except ValueError as error:
            raise ValueError("is not a point on the P-256 curve") from error
        return value

    @field_validator("auth")
    @classmethod
    def _check_auth(cls, value: str) -> str:
        if len(b64url_decode(value)) != 16:
            raise ValueError("must be 16 bytes (URL-safe base64 of 22 characters)")
        return value

    @property
    def p256dh_bytes(self) -> bytes:
        """The decoded public key."""
        return b64url_decode(self.p256dh)

    @property
    def auth_bytes(self) -> bytes:
        """The decoded auth secret."""
        return b64url_decode(self.auth)


class WebPushSubscriptionSchema(BaseSchema):
    """A browser's push subscription: exactly the JSON of ``PushSubscription.toJSON()``.

    ``expirationTime`` is read and written under its browser name (the Python attribute
    is ``expiration_time``), so a stored subscription dumps back to the same JSON.

    The endpoint must be an ``https`` URL: the server posts to it, so it must not be an
    address of your own network (loopback, private, link-local and reserved IP addresses
    are refused). A loopback host (``127.0.0.1``, ``::1``, ``localhost``), over ``http``
    or ``https``, is accepted only while ``settings.DEBUG`` is on, for a push service run
    by tests or on a developer's machine.

    Attributes:
        endpoint: The push service URL of this subscription.
        expiration_time: When the subscription expires (milliseconds since the epoch), or
            None (most browsers).
        keys: The keys the payload is encrypted for.
    """

    model_config = ConfigDict(serialize_by_alias=True)

    endpoint: str = Field(min_length=1, max_length=MAX_ENDPOINT_LENGTH)
    expiration_time: float | None = Field(default=None, alias="expirationTime")
    keys: WebPushKeysSchema

    @field_validator("endpoint")
    @classmethod
    def _check_endpoint(cls, value: str) -> str:
        try:
            parts = urlsplit(value)
            host = parts.hostname
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError as error:
            raise ValueError("must be a URL") from error
        if not host:
            raise ValueError("must be an absolute URL with a host")
        if parts.scheme in ("http", "https") and _is_loopback(host) and _debug():
            return value
        if _is_own_network(host):
            raise ValueError(
                "must be a push service's address, not a loopback, private, link-local or "
                "reserved one (the server would post to its own network)"
            )
        if parts.scheme == "https":
            return value
        raise ValueError(
            "must be an https URL (http is accepted only for a loopback host with DEBUG on)"
        )

    @property
    def audience(self) -> str:
        """The push service's origin (``scheme://host[:port]``): the VAPID ``aud`` claim."""
        parts = urlsplit(self.endpoint)
        return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


class WebPushPayloadSchema(BaseSchema):
    """A notification, as JSON for the service worker's ``push`` event.

    The service worker reads it with ``event.data.json()`` and typically passes it to
    ``registration.showNotification(title, {body, icon, badge, image, tag, data})``.
    Fields left None are not sent.

    Attributes:
        title: The notification's title.
        body: Its text.
        icon: URL of the icon shown beside it.
        badge: URL of the small monochrome badge (Android).
        image: URL of a large image.
        tag: Notifications with the same tag replace each other.
        url: Where a click should lead (the service worker opens it).
        data: Any JSON your service worker needs.
    """

    title: str = Field(min_length=1, max_length=256)
    body: str | None = None
    icon: str | None = None
    badge: str | None = None
    image: str | None = None
    tag: str | None = None
    url: str | None = None
    data: dict[str, Any] | None = None

    def to_bytes(self) -> bytes:
        """The UTF-8 JSON sent (None fields left out)."""
        return self.model_dump_json(exclude_none=True).encode()
