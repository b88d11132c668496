"""get_client_ip / get_client_ip_from_scope: the client behind proxies, never a forged one."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.requests import Request

import tempest
import tempest.api
import tempest.utils
from tempest.utils.client_ip import get_client_ip, get_client_ip_from_scope, parse_trusted_proxies

PROXIES = ["10.0.0.0/8", "fd00::/8"]


def scope(peer: str | None = "10.0.0.5", **headers: str | bytes) -> dict[str, Any]:
    raw = [
        (name.replace("_", "-").lower().encode(), v if isinstance(v, bytes) else v.encode())
        for name, v in headers.items()
    ]
    return {
        "type": "http",
        "headers": raw,
        "client": None if peer is None else (peer, 1234),
    }


def ip(peer: str | None = "10.0.0.5", trusted: Any = PROXIES, **headers: str | bytes) -> Any:
    return get_client_ip_from_scope(scope(peer, **headers), trusted_proxies=trusted)


def test_it_is_exported_where_the_spec_lists_it() -> None:
    for package in (tempest, tempest.api, tempest.utils):
        assert package.get_client_ip is get_client_ip
        assert package.get_client_ip_from_scope is get_client_ip_from_scope


def test_without_trusted_proxies_the_peer_is_the_client_whatever_the_headers() -> None:
    assert ip("203.0.113.9", None, x_forwarded_for="1.2.3.4") == "203.0.113.9"
    assert ip("203.0.113.9", [], forwarded="for=1.2.3.4") == "203.0.113.9"


def test_a_header_from_an_untrusted_peer_is_ignored() -> None:
    assert ip("203.0.113.9", x_forwarded_for="1.2.3.4", forwarded="for=1.2.3.4") == "203.0.113.9"


def test_x_forwarded_for_is_walked_from_the_right_skipping_trusted_proxies() -> None:
    # The client wrote "6.6.6.6" itself; the first proxy appended the real address.
    assert ip(x_forwarded_for="6.6.6.6, 198.51.100.7, 10.1.1.1") == "198.51.100.7"
    assert ip(x_forwarded_for="198.51.100.7") == "198.51.100.7"
    assert ip(x_forwarded_for="10.9.9.9, 10.1.1.1") == "10.9.9.9"  # all trusted: leftmost


def test_forwarded_comes_first_and_is_parsed_per_rfc_7239() -> None:
    assert ip(forwarded="for=192.0.2.60;proto=http;by=203.0.113.43", x_forwarded_for="1.1.1.1") == (
        "192.0.2.60"
    )
    assert ip(forwarded='for="[2001:db8:cafe::17]:4711"') == "2001:db8:cafe::17"
    assert ip(forwarded='For="192.0.2.43:47011", for=10.0.0.9') == "192.0.2.43"
    assert ip(forwarded="proto=https") is not None  # no for=: falls back
    assert ip(forwarded="proto=https", x_forwarded_for="192.0.2.1") == "192.0.2.1"


def test_several_header_lines_are_joined_in_order() -> None:
    request = scope()
    request["headers"] = [
        (b"x-forwarded-for", b"6.6.6.6"),
        (b"x-forwarded-for", b"198.51.100.7, 10.2.2.2"),
    ]
    assert get_client_ip_from_scope(request, trusted_proxies=PROXIES) == "198.51.100.7"


def test_addresses_are_normalized() -> None:
    assert ip("[2001:DB8::1]", None) == "2001:db8::1"
    assert ip("::ffff:192.0.2.1", None) == "192.0.2.1"
    assert ip("fe80::1%eth0", None) == "fe80::1"
    assert ip(x_forwarded_for="[2001:db8::2]:443") == "2001:db8::2"
    assert ip(x_forwarded_for="192.0.2.5:8080") == "192.0.2.5"
    assert ip("fd00::1", x_forwarded_for="2001:db8::3") == "2001:db8::3"


@pytest.mark.parametrize(
    "value",
    [
        "not an ip",
        "unknown",
        "_hidden",
        "1.2.3.4\x00",
        "[::1",
        "999.1.1.1",
        ",,,",
        "",
        "x" * 100_000,
        "\u00e9t\u00e9".encode().decode("latin-1"),
    ],
)
def test_garbage_stops_the_walk_at_the_last_trusted_hop(value: str) -> None:
    assert ip(x_forwarded_for=value.encode("latin-1")) == "10.0.0.5"
    assert ip(forwarded=f"for={value}".encode("latin-1")) == "10.0.0.5"
    assert ip(x_forwarded_for=f"{value}, 198.51.100.7".encode("latin-1")) == "198.51.100.7"


def test_a_huge_header_reads_only_the_nearest_hops() -> None:
    padding = ", ".join(f"10.0.{n // 250}.{n % 250}" for n in range(5000))
    # Only the 32 nearest hops are read: the leftmost of them, not the far-left 6.6.6.6.
    assert ip(x_forwarded_for=f"6.6.6.6, {padding}") == "10.0.19.218"


def test_no_peer_gives_none() -> None:
    assert ip(None) is None
    assert get_client_ip_from_scope({"type": "http"}) is None
    assert get_client_ip_from_scope({"type": "http", "client": ("not-an-ip", 1)}) is None


def test_accept_private_false_refuses_non_global_addresses() -> None:
    request = scope("192.168.1.9")
    assert get_client_ip_from_scope(request, accept_private=False) is None
    assert get_client_ip_from_scope(scope("127.0.0.1"), accept_private=False) is None
    assert get_client_ip_from_scope(scope("8.8.8.8"), accept_private=False) == "8.8.8.8"


def test_get_client_ip_reads_the_request_scope() -> None:
    request = Request(scope("10.0.0.5", x_forwarded_for="198.51.100.7"))
    assert get_client_ip(request, trusted_proxies={"10.0.0.0/8"}) == "198.51.100.7"
    assert get_client_ip(request) == "10.0.0.5"


def test_trusted_proxies_are_parsed_once_and_bad_ones_named() -> None:
    parsed = parse_trusted_proxies(["10.0.0.0/8", "::1", " 192.168.0.1/24 "])
    assert [str(network) for network in parsed] == ["10.0.0.0/8", "::1/128", "192.168.0.0/24"]
    assert parse_trusted_proxies(parsed) == parsed
    assert parse_trusted_proxies(None) == ()
    with pytest.raises(ValueError, match=r"trusted proxy 'example\.com' is not a network"):
        parse_trusted_proxies(["example.com"])


def test_the_setting_refuses_a_bad_network() -> None:
    from pydantic import ValidationError

    from tempest.conf import Settings

    with pytest.raises(ValidationError, match="'nope' is not a network"):
        Settings(TRUSTED_PROXIES=["nope"])
    assert Settings(TRUSTED_PROXIES=["10.0.0.0/8"]).TRUSTED_PROXIES == ["10.0.0.0/8"]


# -- hostile headers (issue 15) --------------------------------------------------------------


@pytest.mark.parametrize(
    "forged",
    [
        "198.51.100.7",
        "10.0.0.9",  # even an address of a trusted network
        "[2001:db8::1]:443",
        ", ".join(["198.51.100.7"] * 50),
    ],
)
def test_a_spoofed_header_from_an_untrusted_peer_never_names_the_client(forged: str) -> None:
    for peer in ("203.0.113.9", "2001:db8:ffff::1", "127.0.0.1"):
        assert ip(peer, x_forwarded_for=forged) == ipaddress_text(peer)
        assert ip(peer, forwarded=f'for="{forged}"') == ipaddress_text(peer)
        assert ip(peer, x_real_ip=forged, trusted=PROXIES) == ipaddress_text(peer)


def ipaddress_text(address: str) -> str:
    import ipaddress

    return str(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "garbage",
    ["unknown", "1.2.3", "::::", "<script>alert(1)</script>", "", "   ", "_hidden", "1.2.3.4.5"],
)
def test_a_garbage_hop_ends_the_walk_at_the_nearest_trusted_proxy(garbage: str) -> None:
    # "client, garbage, proxy": the walk from the right stops at the garbage.
    assert ip(x_forwarded_for=f"198.51.100.7, {garbage}, 10.1.1.1") == "10.1.1.1"
    # Garbage the client wrote at the left is never reached.
    assert ip(x_forwarded_for=f"{garbage}, 198.51.100.7, 10.1.1.1") == "198.51.100.7"
    assert ip(forwarded=f"for={garbage}, for=198.51.100.7") == "198.51.100.7"


def test_empty_items_and_spaces_are_not_addresses() -> None:
    assert ip(x_forwarded_for=" 198.51.100.7 ,\t10.1.1.1 ") == "198.51.100.7"
    assert ip(x_forwarded_for="198.51.100.7,,10.1.1.1") == "10.1.1.1"
    assert ip(x_forwarded_for=",") == "10.0.0.5"
    assert ip(x_forwarded_for="") == "10.0.0.5"


def test_fifty_hops_of_trusted_proxies_read_only_the_nearest() -> None:
    hops = [f"10.0.0.{n}" for n in range(1, 51)]
    # The client's own claim at the far left is beyond the hops read.
    assert ip(x_forwarded_for=", ".join(["6.6.6.6", *hops])) == "10.0.0.19"
    # A real client among the nearest hops is found.
    assert ip(x_forwarded_for=", ".join([*hops[:40], "198.51.100.7", *hops[40:]])) == (
        "198.51.100.7"
    )


@pytest.mark.parametrize(
    ("header", "value", "client"),
    [
        ("x_forwarded_for", "[2001:db8::1]:443", "2001:db8::1"),
        ("x_forwarded_for", "[2001:DB8:0:0::1]", "2001:db8::1"),
        ("x_forwarded_for", "2001:db8::1", "2001:db8::1"),
        ("x_forwarded_for", "[fe80::1%eth0]:80", "fe80::1"),  # the zone is dropped
        ("x_forwarded_for", "[fe80::1%25eth0]:80", "fe80::1"),  # so is a URI-escaped one
        ("x_forwarded_for", "[2001:db8::1", None),
        ("x_forwarded_for", "::ffff:198.51.100.7", "198.51.100.7"),
        ("forwarded", 'for="[2001:db8::1]:4711"', "2001:db8::1"),
        ("forwarded", 'for="[2001:db8::1]"', "2001:db8::1"),
        ("forwarded", 'for="198.51.100.7:4711"', "198.51.100.7"),
        ("forwarded", "for=198.51.100.7;proto=https;by=10.1.1.1", "198.51.100.7"),
        ("forwarded", 'FOR="[2001:DB8::1]:4711";Proto=HTTPS', "2001:db8::1"),
        ("forwarded", 'for="_hidden"', None),
        ("forwarded", "for=unknown", None),
        ("forwarded", 'for="_gazonk", for=10.1.1.1', "10.1.1.1"),  # the nearest trusted hop
    ],
)
def test_ipv6_brackets_ports_and_obfuscated_identifiers(
    header: str, value: str, client: str | None
) -> None:
    # None: not an address, so the trusted peer itself is the last address believed.
    assert ip(**{header: value}) == (client or "10.0.0.5")


def test_header_names_are_matched_in_any_case() -> None:
    request = scope()
    request["headers"] = [(b"X-Forwarded-For", b"198.51.100.7"), (b"FORWARDED", b"For=192.0.2.9")]
    assert get_client_ip_from_scope(request, trusted_proxies=PROXIES) == "192.0.2.9"


def test_several_forwarded_lines_are_one_list() -> None:
    request = scope()
    request["headers"] = [
        (b"forwarded", b"for=6.6.6.6"),
        (b"forwarded", b'for="[2001:db8::7]:1", for=10.3.3.3'),
    ]
    assert get_client_ip_from_scope(request, trusted_proxies=PROXIES) == "2001:db8::7"


def test_the_chain_is_walked_right_to_left_across_address_families() -> None:
    # client -> fd00::9 (trusted) -> 10.1.1.1 (trusted) -> us
    assert ip(x_forwarded_for="6.6.6.6, 2001:db8::5, fd00::9, 10.1.1.1") == "2001:db8::5"
    # An untrusted hop in the middle is the client: what is left of it is its word.
    assert ip(x_forwarded_for="198.51.100.7, 203.0.113.1, 10.1.1.1") == "203.0.113.1"


# -- trusted_header ---------------------------------------------------------------------------


def test_trusted_header_reads_that_header_alone() -> None:
    # A proxy that writes only X-Forwarded-For passes the client's own Forwarded through.
    forged = {"forwarded": "for=6.6.6.6", "x_forwarded_for": "198.51.100.7"}
    assert ip(**forged) == "6.6.6.6"  # the default order believes Forwarded
    request = scope(**forged)
    assert (
        get_client_ip_from_scope(request, trusted_proxies=PROXIES, trusted_header="X-Forwarded-For")
        == "198.51.100.7"
    )
    only_forwarded = get_client_ip_from_scope(
        scope(forwarded="for=192.0.2.9", x_forwarded_for="6.6.6.6"),
        trusted_proxies=PROXIES,
        trusted_header="forwarded",
    )
    assert only_forwarded == "192.0.2.9"


def test_trusted_header_can_name_a_single_address_header() -> None:
    request = Request(scope(x_real_ip="198.51.100.7", x_forwarded_for="6.6.6.6"))
    assert get_client_ip(request, trusted_proxies=PROXIES, trusted_header="X-Real-IP") == (
        "198.51.100.7"
    )
    # Absent or garbage: the trusted peer.
    assert get_client_ip(request, trusted_proxies=PROXIES, trusted_header="cf-connecting-ip") == (
        "10.0.0.5"
    )
    garbage = Request(scope(x_real_ip="<script>"))
    assert get_client_ip(garbage, trusted_proxies=PROXIES, trusted_header="x-real-ip") == (
        "10.0.0.5"
    )
    # From an untrusted peer, the named header is ignored like the others.
    spoofed = Request(scope("203.0.113.9", x_real_ip="198.51.100.7"))
    assert get_client_ip(spoofed, trusted_proxies=PROXIES, trusted_header="x-real-ip") == (
        "203.0.113.9"
    )
