"""Where webhooks may go: http(s) to public addresses, or to ranges an operator allows.

A notify_url comes from API callers, so without this a caller could make trainq POST to its
own network: loopback, cloud metadata (169.254.169.254), private services. The rule (research
notes, SSRF): resolve the host, unwrap IPv4 hidden in IPv6 forms (mapped, compatible, 6to4,
Teredo, NAT64), and refuse anything that is not a public unicast address unless it lies in
TRAINQ_NOTIFY_ALLOW_CIDRS. The sender connects to the very address that was checked (see
`guarded_session`), so a DNS answer that changes between check and send changes nothing.
"""
from __future__ import annotations

import ipaddress
import re
import socket
from typing import Iterable
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
NAT64_PREFIXES = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
# Every dot-separated part a number (decimal, 0-octal or 0x-hex): how inet_aton reads hosts
# such as 2130706433, 0x7f000001, 0177.0.0.1 or 127.1, which all mean 127.0.0.1.
_NUMERIC_HOST = re.compile(r"^(0[xX][0-9a-fA-F]*|[0-9]+)(\.(0[xX][0-9a-fA-F]*|[0-9]+))*\.?$")


class AddressRefused(ValueError):
    """The URL or the address it resolves to may not receive webhooks; the text says why."""


def check_url_form(url: str) -> tuple[str, int]:
    """(host, port) of an acceptable URL, judged without any network access."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise AddressRefused("only http and https URLs can receive webhooks")
    if "@" in parts.netloc:
        raise AddressRefused("credentials in the URL are not allowed; use TRAINQ_WEBHOOK_SECRET "
                             "signatures to authenticate trainq instead")
    try:
        host, port = parts.hostname, parts.port
    except ValueError as exc:
        raise AddressRefused(f"the URL's port is not valid ({exc})") from None
    if not host:
        raise AddressRefused("the URL names no host")
    if _NUMERIC_HOST.match(host) and not _is_dotted_quad(host):
        raise AddressRefused(f"write the address {host!r} as four decimal numbers (a.b.c.d)")
    return host, port or (443 if parts.scheme == "https" else 80)


def check_url(url: str, allow: Iterable = ()) -> list[IPAddress]:
    """The addresses the URL's host resolves to, all acceptable; AddressRefused otherwise."""
    host, port = check_url_form(url)
    return checked_addresses(host, port, tuple(allow))


def checked_addresses(host: str, port: int, allow: tuple = ()) -> list[IPAddress]:
    addresses = resolve(host, port)
    if not addresses:
        raise AddressRefused(f"{host!r} resolves to no address")
    for address in addresses:
        reason = refusal(address, allow)
        if reason:
            shown = f"{host!r} resolves to {address}" if str(address) != host else str(address)
            raise AddressRefused(f"{shown}, {reason}; webhooks go to public addresses only "
                                 "unless an operator allows the range (TRAINQ_NOTIFY_ALLOW_CIDRS)")
    return addresses


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address the system resolver gives for host (tests replace this)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise AddressRefused(f"the host {host!r} cannot be resolved ({exc})") from None
    found: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        if address not in found:
            found.append(address)
    return found


def refusal(address: IPAddress, allow: tuple = ()) -> str | None:
    """Why `address` may not receive webhooks, or None when it may."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return refusal(address.ipv4_mapped, allow)  # the same host, written in IPv6
    if any(address.version == net.version and address in net for net in allow):
        return None
    for inner in _embedded_ipv4(address):
        reason = refusal(inner, allow)
        if reason:
            return f"which embeds {inner}, {reason}"
    return _kind(address)


def _kind(address: IPAddress) -> str | None:
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address (where cloud metadata services live)"
    if address.is_multicast:
        return "a multicast address"
    if address.is_private:
        return "a private address"
    if not address.is_global:
        return "not a public address"
    return None


def _embedded_ipv4(address: IPAddress) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses that an IPv6 address routes to (6to4, Teredo, NAT64, IPv4-compatible)."""
    if not isinstance(address, ipaddress.IPv6Address):
        return []
    found = []
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)
    if any(address in prefix for prefix in NAT64_PREFIXES) or (
            address in IPV4_COMPATIBLE and int(address) > 1):
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


def _is_dotted_quad(host: str) -> bool:
    try:
        ipaddress.IPv4Address(host)  # refuses short forms and leading zeros
        return True
    except ValueError:
        return False
