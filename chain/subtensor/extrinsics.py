"""Sign, submit and check one extrinsic; runtime failures become the typed errors of chain.errors.

The extrinsic is signed once and the same bytes are re-sent if the socket drops mid-submit, so a
retry can never execute the call twice (the chain rejects a reused nonce as outdated); when the
re-sent copy is refused that way, the first copy is looked up in the new blocks, so the caller learns
that its call went in (with its real result) instead of a false "rejected".
A sudo call "succeeds" even when its inner call fails, so the `Sudid` event's result is checked too.
"""
from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass

from substrateinterface import ExtrinsicReceipt, Keypair
from substrateinterface.exceptions import SubstrateRequestException

from chain.errors import ChainConnectionError, ExtrinsicError, error_from_name
from chain.subtensor.connection import Connection
from chain.subtensor.runtime import RuntimeShape, read_storage

log = logging.getLogger(__name__)


@dataclass
class Event:
    pallet: str
    name: str
    attributes: object


def dispatch_error_name(shape: RuntimeShape, err) -> str:
    """Name of a DispatchError as the runtime decodes it in events: {'Module': {...}}, 'BadOrigin', …"""
    if isinstance(err, str):
        return err
    if isinstance(err, dict) and len(err) == 1:
        (kind, detail), = err.items()
        if kind == "Module" and isinstance(detail, dict):
            return shape.module_error_name(detail["index"], detail["error"])
        if isinstance(detail, (dict, str)) and kind in ("Token", "Arithmetic", "Transactional"):
            return f"{kind}{detail if isinstance(detail, str) else next(iter(detail))}"
        return kind
    return str(err)


#: InvalidTransaction::Custom(code) of subtensor's transaction extension (dTAO runtimes check stake,
#: balance, registration and serving before dispatch): code -> (the extension's name, the pallet error
#: it stands for, so the typed error is the one the dispatch would raise). Codes 0-15 and 255 are the
#: same in every runtime that has them (pallets/subtensor CustomTransactionError, 2025).
CUSTOM_VALIDITY_ERRORS: dict[int, tuple[str, str]] = {
    0: ("ColdkeyInSwapSchedule", "ColdkeyInSwapSchedule"),
    1: ("StakeAmountTooLow", "AmountTooLow"),
    2: ("BalanceTooLow", "NotEnoughBalanceToStake"),
    3: ("SubnetDoesntExist", "SubNetworkDoesNotExist"),
    4: ("HotkeyAccountDoesntExist", "HotKeyAccountNotExists"),
    5: ("NotEnoughStakeToWithdraw", "NotEnoughStakeToWithdraw"),
    6: ("RateLimitExceeded", "TxRateLimitExceeded"),
    7: ("InsufficientLiquidity", "InsufficientLiquidity"),
    8: ("SlippageTooHigh", "SlippageTooHigh"),
    9: ("TransferDisallowed", "TransferDisallowed"),
    10: ("HotKeyNotRegisteredInNetwork", "HotKeyNotRegisteredInSubNet"),
    11: ("InvalidIpAddress", "InvalidIpAddress"),
    12: ("ServingRateLimitExceeded", "ServingRateLimitExceeded"),
    13: ("InvalidPort", "InvalidPort"),
    14: ("ZeroMaxAmount", "ZeroMaxStakeAmount"),
    15: ("InvalidRevealRound", "InvalidRevealRound"),
    255: ("BadRequest", "BadRequest"),
}


def _pool_error(exc: SubstrateRequestException, what: str) -> ExtrinsicError:
    """The node refused the extrinsic before execution (bad nonce, fees, custom validity error)."""
    info = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {"message": str(exc)}
    text = f"{info.get('message', '')} {info.get('data', '')}".strip()
    low = text.lower()
    if "outdated" in low or "stale" in low or "already imported" in low or "priority is too low" in low:
        return ExtrinsicError(f"{what}: nonce already used ({text})", name="Stale",
                              hint="another transaction with this key went in first (or a dropped connection "
                                   "already delivered it): check the chain state before retrying")
    if "pay" in low and "fee" in low:
        return error_from_name("NotEnoughBalance", f"{what}: {text}")
    # a node says 'Invalid Transaction' / 'Custom error: 5'; Chopsticks '{"invalid":{"custom":5}}'
    custom = re.search(r'custom(?: error)?"?\s*:\s*(\d+)', low)
    if custom and int(custom.group(1)) in CUSTOM_VALIDITY_ERRORS:
        own, name = CUSTOM_VALIDITY_ERRORS[int(custom.group(1))]
        return error_from_name(name, f"{what} refused by the node's transaction checks: {own} ({text})")
    return ExtrinsicError(f"{what} rejected by the node: {text}", name="InvalidTransaction",
                          hint="the runtime's transaction checks refused it (rate limit, stake or registration)")


class Submitter:
    """Submits extrinsics over one Connection; one submission at a time per process (nonce safety)."""

    def __init__(self, conn: Connection, shape: RuntimeShape):
        self._conn = conn
        self._shape = shape
        self._lock = threading.Lock()

    def submit(self, pallet: str, call: str, params: dict, signer: Keypair, *, sudo: bool = False,
               what: str | None = None) -> list[Event]:
        what = f"{'sudo ' if sudo else ''}{what or f'{pallet}.{call}'}"

        def sign(s):
            c = s.compose_call(pallet, call, params)
            if sudo:
                c = s.compose_call("Sudo", "sudo", {"call": c})
            # the stored nonce: what the AccountNonceApi runtime call returns, read without running the runtime
            nonce = read_storage(s, "System", "Account", [signer.ss58_address])["nonce"]
            return s.create_signed_extrinsic(call=c, keypair=signer, nonce=nonce)

        sends = 0

        def send(s):
            nonlocal sends
            sends += 1
            return s.submit_extrinsic(xt, wait_for_inclusion=True)

        with self._lock:
            t0 = time.perf_counter()
            xt = self._conn.run(sign)
            first_block = self._conn.run(lambda s: s.get_block_number(None))
            try:
                receipt = self._conn.run(send)
            except SubstrateRequestException as exc:
                error = _pool_error(exc, what)
                # the socket dropped after the node took the first copy: the re-sent one is refused as
                # stale, but the call went in, so find its block and report what really happened
                receipt = self._find_included(xt, first_block) if sends > 1 and error.name == "Stale" else None
                if receipt is None:
                    raise error from exc
                log.info("%s: the answer was lost with the connection; found the extrinsic in block %s",
                         what, receipt.block_number)
            except ChainConnectionError as exc:
                raise ChainConnectionError(f"{what}: {exc}", hint="the extrinsic may or may not have been "
                                           "included: check the chain state before retrying") from exc
            ok, error, raw_events = self._conn.run(
                lambda s: (receipt.is_success, receipt.error_message, receipt.triggered_events))
            elapsed = time.perf_counter() - t0
        events = [Event(e.value["event"]["module_id"], e.value["event"]["event_id"], e.value["event"]["attributes"])
                  for e in raw_events]
        if not ok:
            name = (error or {}).get("name") or (error or {}).get("type") or "DispatchError"
            raise error_from_name(name, what)
        if sudo:
            self._check_sudid(events, what)
        log.debug("%s by %s ok in %.0f ms", what, signer.ss58_address[:8], elapsed * 1e3)
        return events

    def _find_included(self, xt, first_block: int, wait_s: float = 30.0, max_blocks: int = 5) -> ExtrinsicReceipt | None:
        """The receipt of `xt` if it is in a block after `first_block`, waiting up to `wait_s` (and at
        most `max_blocks` new blocks) for a copy still in the node's pool to be included."""
        want = "0x" + xt.extrinsic_hash.hex()
        seen, deadline = first_block, time.monotonic() + wait_s
        while True:
            head = self._conn.run(lambda s: s.get_block_number(None))
            for n in range(seen + 1, head + 1):
                block_hash = self._conn.run(lambda s: s.get_block_hash(n))
                block = self._conn.run(lambda s: s.get_block(block_hash=block_hash))
                if any(e.extrinsic_hash and "0x" + e.extrinsic_hash.hex() == want for e in block["extrinsics"]):
                    return ExtrinsicReceipt(substrate=self._conn.substrate, extrinsic_hash=want,
                                            block_hash=block_hash, block_number=n)
            seen = head
            if time.monotonic() > deadline or head - first_block >= max_blocks:
                return None
            time.sleep(0.5)

    def _check_sudid(self, events: list[Event], what: str) -> None:
        for ev in events:
            if ev.name == "Sudid":
                attrs = ev.attributes
                result = attrs.get("sudo_result") if isinstance(attrs, dict) else attrs
                if isinstance(result, (list, tuple)) and result:
                    result = result[0]
                if isinstance(result, dict) and "Err" in result:
                    raise error_from_name(dispatch_error_name(self._shape, result["Err"]), what)
                return
        raise ExtrinsicError(f"{what}: no Sudid event in the block", name="NoSudidEvent",
                             hint="the sudo call was not executed: is the signer the chain's sudo key?")
