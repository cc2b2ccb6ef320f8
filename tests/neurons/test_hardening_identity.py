"""Issue 14, findings 1 and 4: one identity per key, and caller strings that are not addresses.

1. The validator API's allowance could be multiplied by re-encoding the caller's address under
   other ss58 network prefixes (the stake look-up normalised the address, the limits did not).
4. A caller string that is not an address cost a chain look-up and answered SERVER_ERROR,
   never slowed by the tarpit.
Both run against a real axon over loopback gRPC with the validator API's own admission policy
(api_auth.ApiAuth); the chain's stake read is a counting stand-in that normalises addresses like
the chain does (named `chain_stake`).
"""
from __future__ import annotations

import asyncio

from scalecodec.utils.ss58 import ss58_decode
from substrateinterface import Keypair

from chain.types import RAO_PER_TAO
from neurons.axon.routes import Caller
from neurons.validator.api_auth import OFF_SUBNET, ApiAuth, StakeBook, StakeRateLimiter
from protocol import envelope
from protocol.codes import ReturnCode
from protocol.replay import ReplayGuard
from hardening_kit import MINER, echo, send_raw, serving, signed, with_header

SEED = "//HardeningApiCaller"
CALLER = Keypair.create_from_uri(SEED)
FORMATS = [0, 2, 5, 7, 10]   # Polkadot, Kusama, ... : the same key, other network prefixes


class ChainStake:
    """Stand-in for Chain.stake: 10 TAO for CALLER's key in any spelling (like the chain), counts reads,
    and raises for strings that are not addresses (like the chain's decoder)."""

    def __init__(self):
        self.reads = 0

    def __call__(self, hotkey: str) -> int:
        self.reads += 1
        pk = ss58_decode(hotkey)  # ValueError for a non-address
        return 10 * RAO_PER_TAO if pk == CALLER.public_key.hex() else 0


def api_hooks(stake: ChainStake) -> dict:
    """The API's policy: 10 TAO gives 1 + 0.1*10 = 2 requests/s with a 1 s burst: 2 at once. The
    caller's stake is looked up beforehand (off the serving loop, as a first request would start it)."""
    auth = ApiAuth(StakeBook(stake), StakeRateLimiter(1.0, 0.1, 100.0, 1.0), min_stake=1.0)
    assert auth.book.stake(Caller(CALLER.ss58_address, OFF_SUBNET, "echo")) is None
    auth.book.settle()
    return {"blacklist": auth.blacklist, "verify": auth.verify, "priority": auth.priority,
            "caller_info": lambda hk: OFF_SUBNET, "require_validator_permit": False}  # as serve_api configures it


def test_the_api_allowance_is_per_key_not_per_spelling():
    async def main():
        stake = ChainStake()
        async with serving(echo, **api_hooks(stake), quick_refusal_burst=1000) as axon:
            codes = {}
            for fmt in [42, *FORMATS]:
                kp = Keypair.create_from_uri(SEED, ss58_format=fmt)
                codes[fmt] = [(await send_raw(axon, signed(kp))).code for _ in range(4)]
            ok = sum(c == ReturnCode.SUCCESS for cs in codes.values() for c in cs)
            assert ok == 2, codes   # the key's burst, however it is spelled
            assert codes[42] == [ReturnCode.SUCCESS] * 2 + [ReturnCode.RATE_LIMITED] * 2
            for fmt in FORMATS:     # another network's spelling is refused before any look-up
                assert set(codes[fmt]) == {ReturnCode.INVALID_REQUEST}, (fmt, codes[fmt])
    asyncio.run(main())


def test_only_the_canonical_spelling_has_a_key():
    assert envelope.caller_key(CALLER.ss58_address) == CALLER.public_key
    for fmt in FORMATS:
        other = Keypair.create_from_uri(SEED, ss58_format=fmt).ss58_address
        assert other != CALLER.ss58_address and envelope.caller_key(other) is None
    for junk in ["", "not-an-address", CALLER.ss58_address[:-1], CALLER.ss58_address + "x", "0x" + "00" * 32]:
        assert envelope.caller_key(junk) is None


def test_a_re_encoded_caller_fails_verification_and_nonces_are_kept_per_key():
    kp0 = Keypair.create_from_uri(SEED, ss58_format=0)
    req = envelope.parse_request(envelope.build_request(kp0, synapse="echo", receiver=MINER.ss58_address,
                                                        body=b""), max_bytes=1 << 20)
    guard = ReplayGuard()
    assert envelope.verify_request(req, receiver=MINER.ss58_address, guard=guard) == ReturnCode.UNAUTHENTICATED
    ok = envelope.parse_request(envelope.build_request(CALLER, synapse="echo", receiver=MINER.ss58_address,
                                                       body=b"", nonce=7), max_bytes=1 << 20)
    assert envelope.verify_request(ok, receiver=MINER.ss58_address, guard=guard) == ReturnCode.SUCCESS
    assert guard.precheck(CALLER.public_key, 7, ok.header.timestamp_ns) == ReturnCode.REPLAYED


def test_a_caller_that_is_no_address_is_refused_before_any_chain_read_and_tarpitted():
    async def main():
        stake = ChainStake()
        async with serving(echo, **api_hooks(stake), quick_refusal_burst=1, quick_refusals_per_s=0.01,
                           refusal_hold_s=0.3) as axon:
            for junk in ["not-an-address", "5" * 48, "", "\u00e9" * 40]:
                resp = await send_raw(axon, with_header(signed(), caller=junk))
                assert resp.code == ReturnCode.INVALID_REQUEST, (junk, resp.code, resp.message)
            assert stake.reads == 1                 # CALLER's own, before serving: none was spent on them
            assert axon._tarpit.total >= 2          # past the allowance of 1, refusals were held
            assert (await send_raw(axon, signed(CALLER))).code == ReturnCode.SUCCESS
            assert stake.reads == 1                 # cached
    asyncio.run(main())
