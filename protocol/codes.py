"""Return codes shared by server and client; mirrors `enum ReturnCode` in schema.proto."""
from __future__ import annotations

import enum


class ReturnCode(enum.IntEnum):
    SUCCESS = 0
    TIMEOUT = 1
    UNAVAILABLE = 2
    BLACKLISTED = 3
    UNAUTHENTICATED = 4
    REPLAYED = 5
    STALE = 6
    WRONG_RECEIVER = 7
    PAYLOAD_TOO_LARGE = 8
    INVALID_REQUEST = 9
    INVALID_RESPONSE = 10
    VERSION_MISMATCH = 11
    OVERLOADED = 12
    SERVER_ERROR = 13
    NOT_FOUND = 14
    RATE_LIMITED = 15


_DESCRIPTIONS = {
    ReturnCode.SUCCESS: "success",
    ReturnCode.TIMEOUT: "no answer before the deadline",
    ReturnCode.UNAVAILABLE: "peer unreachable (connection refused or dropped)",
    ReturnCode.BLACKLISTED: "caller refused by the server's blacklist (unregistered, low stake or no permit)",
    ReturnCode.UNAUTHENTICATED: "missing or invalid signature, or body does not match its signed hash",
    ReturnCode.REPLAYED: "nonce already used by this caller within the replay window",
    ReturnCode.STALE: "timestamp outside the accepted window (check the machine's clock)",
    ReturnCode.WRONG_RECEIVER: "request was signed for a different receiver hotkey",
    ReturnCode.PAYLOAD_TOO_LARGE: "message larger than the configured limit",
    ReturnCode.INVALID_REQUEST: "request could not be parsed or has invalid fields",
    ReturnCode.INVALID_RESPONSE: "response could not be parsed, is unsigned, or is signed by someone else",
    ReturnCode.VERSION_MISMATCH: "peer speaks a different protocol version; upgrade opensubnet",
    ReturnCode.OVERLOADED: "server queue full; request shed",
    ReturnCode.SERVER_ERROR: "the server's handler failed",
    ReturnCode.NOT_FOUND: "unknown synapse on this server",
    ReturnCode.RATE_LIMITED: "caller exceeded its request rate",
}


def describe(code: int) -> str:
    """One line naming the code and what it means, e.g. 'STALE (6): timestamp outside ...'."""
    try:
        rc = ReturnCode(code)
    except ValueError:
        return f"UNKNOWN ({int(code)}): return code not known to this version"
    return f"{rc.name} ({int(rc)}): {_DESCRIPTIONS[rc]}"


class EnvelopeError(ValueError):
    """A message that cannot be accepted; `.code` is the ReturnCode to answer or report with."""

    def __init__(self, code: ReturnCode, message: str):
        super().__init__(message)
        self.code = ReturnCode(code)
