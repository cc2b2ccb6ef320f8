"""Which IPs the runtime accepts in serve_axon (pallets/subtensor serving.rs `is_valid_ip_address`).

It rejects exactly 0.0.0.0 / ::, the all-ones address and localhost (127.0.0.1, ::1); 127.0.0.2, also
loopback, passes. The dev ledger applies this rule, and a miner checks it before it loads its model.
"""
from __future__ import annotations

import ipaddress

from chain.errors import error_from_name

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_axon_ip(ip: str) -> IPAddress:
    """The address, or the runtime's InvalidIpAddress error (typed, with its hint)."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError as exc:
        raise error_from_name("InvalidIpAddress", repr(ip)) from exc
    as_int = int(addr)
    top = (1 << (32 if addr.version == 4 else 128)) - 1
    localhost = 0x7F000001 if addr.version == 4 else 1
    if as_int in (0, top, localhost):
        raise error_from_name("InvalidIpAddress", ip)
    return addr
