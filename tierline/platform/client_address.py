"""Who is calling: the client address every request is judged and recorded by.

Behind a reverse proxy every request arrives from the proxy's address; the proxy names the real
client in ``X-Forwarded-For``. That header is only believed when the peer is one of the
configured trusted proxies (``TIERLINE_TRUSTED_PROXIES``): anyone else could write any address
into it and dodge the sign-in throttle or forge the audit trail. The list is read from the
right (the address the nearest proxy saw) and the first address that is not itself a trusted
proxy is the client.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """Addresses or CIDR ranges; ``ValueError`` names the first one that is neither."""
    networks = []
    for entry in entries:
        entry = entry.strip()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"'{entry}' is not an IP address or CIDR range") from None
    return tuple(networks)


def _address(raw: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    raw = raw.strip()
    if raw.startswith("[") and "]" in raw:  # [v6]:port
        raw = raw[1 : raw.index("]")]
    elif raw.count(":") == 1:  # v4:port
        raw = raw.split(":", 1)[0]
    try:
        return ipaddress.ip_address(raw)
    except ValueError:
        return None


def _trusted(address: object, proxies: Sequence[Network]) -> bool:
    return any(address in network for network in proxies)


def client_address(peer: str, forwarded_for: str | None, proxies: Sequence[Network]) -> str:
    """The client's address given the TCP peer and the ``X-Forwarded-For`` header it sent."""
    peer_address = _address(peer)
    if not proxies or forwarded_for is None or peer_address is None:
        return peer
    if not _trusted(peer_address, proxies):
        return peer
    client = peer
    for hop in reversed(forwarded_for.split(",")):
        address = _address(hop)
        if address is None:
            break  # a malformed entry: trust nothing further left of it
        client = str(address)
        if not _trusted(address, proxies):
            break
    return client
