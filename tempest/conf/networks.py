"""The check of settings that list IP networks (TRUSTED_PROXIES, METRICS_ALLOWED_NETWORKS)."""

from __future__ import annotations

import ipaddress

__all__ = ["validate_networks"]


def validate_networks(value: list[str]) -> list[str]:
    """``value`` unchanged when every entry is an IP network (a CIDR or a single address).

    Args:
        value: The setting's entries, e.g. ``["10.0.0.0/8", "::1"]``.

    Returns:
        ``value``.

    Raises:
        ValueError: An entry is not a network; the message names it.
    """
    for entry in value:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ValueError(
                f"{entry!r} is not a network: use CIDRs like '10.0.0.0/8' or '::1/128'"
            ) from None
    return value
