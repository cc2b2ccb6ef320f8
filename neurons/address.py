"""Where a miner is reached: the IP it announces on chain, and a bind check of its port.

Both run before the model loads, so a miner that cannot serve says why at once:
  - `--axon.external_ip` given: the chain's own rule (chain.axon_ip) is checked, and a loopback
    address is refused on a chain other machines use;
  - not given, on a local chain (dev ledger, `local`, a node on this machine): the bound host if it
    is one address, else 127.0.0.2 (loopback, which the runtime accepts; 127.0.0.1 it rejects);
  - not given, on any other chain: the source address of this machine's route toward the chain
    (a UDP socket "connected" to it, which sends nothing); refused unless validators can reach it.
"""
from __future__ import annotations

import errno
import ipaddress
import socket
from urllib.parse import urlsplit

from chain.axon_ip import parse_axon_ip
from chain.errors import ChainError
from neurons.cli.errors import CLIError

LOCAL_LOOPBACK = "127.0.0.2"
LOOPBACK_HINT = f"on a local chain use {LOCAL_LOOPBACK} (also loopback), or leave --axon.external_ip unset"
PUBLIC_PROBE = "198.41.0.4"  # a root name server: any public IPv4 picks the default route; nothing is sent
WILDCARD = {"", "0.0.0.0", "::", "[::]"}


class AddressError(CLIError):
    """The miner has no address validators can reach, or cannot bind its port."""


def chain_host(url: str) -> str | None:
    """The host of a ws(s):// chain URL; None for the dev ledger and the local runtime."""
    if url.startswith(("ws://", "wss://")):
        return urlsplit(url).hostname
    return None


def is_local_chain(url: str) -> bool:
    """Dev ledger, the local runtime, or a node on this machine: its validators run here too."""
    if url.startswith("dev:") or url == "local" or url.startswith("local:"):
        return True
    host = chain_host(url) or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def route_source(target: str) -> str | None:
    """This machine's source address on its route to `target` (an IP), or None without a route."""
    try:
        family = socket.AF_INET6 if ipaddress.ip_address(target).version == 6 else socket.AF_INET
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            s.connect((target, 9))  # UDP connect only picks a route: no packet leaves
            return s.getsockname()[0]
    except (OSError, ValueError):
        return None


def _reachable_from(addr: ipaddress.IPv4Address | ipaddress.IPv6Address, chain_ip) -> bool:
    """Validators of a chain at `chain_ip` (None: a public name) can plausibly reach `addr`."""
    if addr.is_loopback or addr.is_unspecified or addr.is_link_local or addr.is_multicast:
        return False
    return addr.is_global or (chain_ip is not None and chain_ip.is_private)


def announce_address(host: str, external_ip: str | None, chain_url: str) -> tuple[str, str]:
    """(IP to announce, how it was chosen), or a CLIError saying why the miner must not start."""
    local = is_local_chain(chain_url)
    if external_ip:
        try:
            addr = parse_axon_ip(external_ip)
        except ChainError as e:  # the runtime's InvalidIpAddress, said with the flag that set it
            raise AddressError(f"--axon.external_ip {external_ip}: {e}", hint=LOOPBACK_HINT if
                               external_ip.startswith("127.") else "pass this machine's public IP") from None
        if addr.is_loopback and not local:
            raise AddressError(f"--axon.external_ip {external_ip} is a loopback address: validators of {chain_url} "
                           "on other machines cannot reach it",
                           hint="pass this machine's public IP (the one your router forwards the axon port to)")
        return str(addr), "from --axon.external_ip"
    if local:
        if host not in WILDCARD:
            try:
                return str(parse_axon_ip(host)), "the bound --axon.host, on a local chain"
            except ChainError as e:  # the chain's rule, said with the way out
                raise AddressError(f"cannot announce --axon.host {host}: {e}",
                               hint=f"bind --axon.host {LOCAL_LOOPBACK} or 0.0.0.0, or pass --axon.external_ip") from None
        return LOCAL_LOOPBACK, "loopback, for validators on this machine: a local chain; --axon.external_ip overrides"
    host_of_chain = chain_host(chain_url)
    try:
        chain_ip = ipaddress.ip_address(host_of_chain or "")
    except ValueError:
        chain_ip = None
    found = route_source(str(chain_ip) if chain_ip is not None else PUBLIC_PROBE)
    addr = ipaddress.ip_address(found) if found else None
    if addr is not None and _reachable_from(addr, chain_ip):
        return str(addr), f"detected: this machine's address on its route to {host_of_chain or 'the internet'}"
    seen = f"its route leaves from {found}, a private address" if found else "it has no route to the internet"
    raise AddressError(f"no address to announce on {chain_url}: {seen}, which validators elsewhere cannot reach",
                   hint="pass --axon.external_ip PUBLIC_IP (behind NAT: your router's public IP, with the "
                        "axon port forwarded to this machine)")


def check_bind(host: str, port: int) -> None:
    """Bind (host, port) once and let go: a CLIError now, instead of a gRPC message after the model loaded."""
    if port == 0:
        return
    bind_host = "::" if host in ("::", "[::]") else ("0.0.0.0" if host in WILDCARD else host.strip("[]"))
    try:
        infos = socket.getaddrinfo(bind_host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as e:
        raise AddressError(f"cannot bind --axon.host {host!r}: {e.strerror}", hint="use an address of this machine, "
                       "or 0.0.0.0 for all") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gRPC does: only a live listener conflicts
        try:
            s.bind(address)
        except OSError as e:
            raise AddressError(f"cannot bind {host}:{port}: {_why(e, port)}", hint=_hint(e, port)) from None


def _why(e: OSError, port: int) -> str:
    return {errno.EADDRINUSE: f"port {port} is in use (another miner, or a program listening there)",
            errno.EACCES: "permission denied (ports below 1024 need privileges)",
            errno.EADDRNOTAVAIL: "the address is not one of this machine's"}.get(e.errno, e.strerror or str(e))


def _hint(e: OSError, port: int) -> str:
    if e.errno == errno.EADDRNOTAVAIL:
        return "set --axon.host to an address of this machine, or 0.0.0.0 for all"
    return f"pick another port with --axon.port (e.g. {port + 1 if 1024 <= port < 65535 else 8091}), or stop what holds it"
