"""Where a trigger may send: https to a public address; http only to this machine, and only with
``WEBHOOK_ALLOW_LOCAL`` (``RECAP_WEBHOOK_ALLOW_LOCAL=1``); never a private, link-local or other
non-public address, so that a trigger cannot be pointed at the server's own network.

The rule is checked twice: when a trigger is saved (the URL's form, an address written in it),
and at every delivery, on the addresses the name resolves to then; the delivery connects to the
address that was checked (``resolve``), so a name that changes its answer in between gains nothing.
"""
from __future__ import annotations

import ipaddress
import socket
import urllib.parse
from dataclasses import dataclass

LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")


class Refused(Exception):
    """The URL, or an address its name resolves to, may not be sent to."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # the name, for TLS and the Host header
    port: int
    address: str  # the checked address to connect to
    path: str  # with the query


def refusal(url: str, *, allow_local: bool) -> str | None:
    """Why ``url`` may not be a webhook, from its form alone; None when it may."""
    try:
        _split(url, allow_local)
    except Refused as exc:
        return str(exc)
    return None


def _split(url: str, allow_local: bool) -> tuple[urllib.parse.SplitResult, str]:
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise Refused(f"Not a URL: {exc}.") from None
    host = (parts.hostname or "").lower().rstrip(".")
    if parts.scheme not in ("https", "http") or not host:
        raise Refused("A webhook is an https URL, e.g. 'https://example.app/hooks/recap'.")
    if parts.username is not None or parts.password is not None:
        raise Refused("A webhook URL holds no user name or password (deliveries are signed).")
    if parts.fragment:
        raise Refused("A webhook URL has no fragment ('#…').")
    if port == 0:
        raise Refused("Port 0 is not a port.")
    local = host in LOCAL_NAMES
    if parts.scheme == "http" and not (local and allow_local):
        raise Refused("A webhook is https; http only to 127.0.0.1 or localhost with RECAP_WEBHOOK_ALLOW_LOCAL=1.")
    if local and not allow_local:
        raise Refused("This machine's own addresses need RECAP_WEBHOOK_ALLOW_LOCAL=1.")
    try:
        written = ipaddress.ip_address(host)
    except ValueError:
        written = None
    if written is not None:
        _check_address(written, allow_local)
    return parts, host


def _check_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address, allow_local: bool) -> None:
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:  # ::ffff:10.0.0.1 is 10.0.0.1
        address = mapped
    if address.is_loopback:
        if not allow_local:
            raise Refused(f"{address} is this machine: only with RECAP_WEBHOOK_ALLOW_LOCAL=1.")
        return
    if address.is_link_local:
        raise Refused(f"{address} is a link-local address.")
    if address.is_private or not address.is_global or address.is_multicast:
        raise Refused(f"{address} is a private or reserved address.")


def resolve(url: str, *, allow_local: bool) -> Target:
    """The address to deliver ``url`` to, checked; Refused when the URL or every address is refused."""
    parts, host = _split(url, allow_local)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise Refused(f"{host} does not resolve: {exc}.") from None
    addresses = [str(info[4][0]) for info in found]
    for address in addresses:  # every one: a name with a private answer among public ones is refused
        _check_address(ipaddress.ip_address(address.partition("%")[0]), allow_local)
    path = parts.path or "/"
    return Target(parts.scheme, host, port, addresses[0], path + (f"?{parts.query}" if parts.query else ""))
