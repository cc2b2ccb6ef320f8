"""Unit tests of the subtensor backend's pure parts (no chain): retry, commit hash, hyperparameter
table, dispatch-error decoding, node-refusal mapping, address normalisation."""
from __future__ import annotations

import pytest
from hypothesis import given, strategies as st
from scalecodec.base import RuntimeConfiguration
from scalecodec.type_registry import load_type_registry_preset
from scalecodec.utils.ss58 import ss58_decode, ss58_encode
from substrateinterface import Keypair
from substrateinterface.exceptions import SubstrateRequestException

from chain.errors import BalanceError, ChainError, ExtrinsicError, NotRegisteredError, UnsupportedError
from chain.subtensor import hyperparams
from chain.subtensor.backend import address
from chain.subtensor.commit import commit_hash, compact, vec_u16
from chain.subtensor.extrinsics import _pool_error, dispatch_error_name
from chain.subtensor.retry import retry
from chain.types import Hyperparameters

_RC = RuntimeConfiguration()
_RC.update_type_registry(load_type_registry_preset("legacy"))


# --- retry ---------------------------------------------------------------------------------
class FakeFlaky:
    """Fails `failures` times with ConnectionResetError, then answers; counts reconnects."""

    def __init__(self, failures: int):
        self.failures, self.calls, self.reconnects = failures, 0, 0

    def reconnect(self):
        self.reconnects += 1

    @retry(retry_on=(ConnectionResetError,), attempts=4, base_delay=0.0, before_retry=lambda self: self.reconnect())
    def read(self):
        self.calls += 1
        if self.calls <= self.failures:
            raise ConnectionResetError("peer reset")
        return "ok"


def test_retry_recovers_after_transient_failures_and_reconnects_between():
    f = FakeFlaky(failures=3)
    assert f.read() == "ok"
    assert (f.calls, f.reconnects) == (4, 3)


def test_retry_gives_up_after_attempts_with_the_give_up_error():
    delays = []

    @retry(retry_on=(TimeoutError,), attempts=3, base_delay=0.5, max_delay=0.8, sleep=delays.append,
           give_up=lambda e: ChainError(f"gone: {e}"))
    def always_times_out():
        raise TimeoutError("stale")

    with pytest.raises(ChainError, match="gone: stale"):
        always_times_out()
    assert delays == [0.5, 0.8]  # exponential backoff, capped


def test_retry_does_not_retry_other_errors():
    calls = []

    @retry(retry_on=(TimeoutError,), attempts=5, base_delay=0.0)
    def wrong_input():
        calls.append(1)
        raise ValueError("bad")

    with pytest.raises(ValueError):
        wrong_input()
    assert len(calls) == 1


# --- commit hash -----------------------------------------------------------------------------
@given(st.integers(min_value=0, max_value=2**40))
def test_compact_matches_scalecodec(n):
    assert compact(n) == _RC.create_scale_object("Compact<u64>").encode(n).data


@given(st.lists(st.integers(min_value=0, max_value=65535), max_size=300))
def test_vec_u16_matches_scalecodec(values):
    assert vec_u16(values) == _RC.create_scale_object("Vec<u16>").encode(values).data


def test_commit_hash_depends_on_every_field():
    pk = Keypair.create_from_uri("//Alice").public_key
    base = commit_hash(pk, 1, [0, 1], [10, 20], [7], 0)
    assert base.startswith("0x") and len(base) == 66
    variants = [commit_hash(pk, 2, [0, 1], [10, 20], [7], 0), commit_hash(pk, 1, [1, 0], [10, 20], [7], 0),
                commit_hash(pk, 1, [0, 1], [10, 21], [7], 0), commit_hash(pk, 1, [0, 1], [10, 20], [8], 0),
                commit_hash(pk, 1, [0, 1], [10, 20], [7], 1),
                commit_hash(Keypair.create_from_uri("//Bob").public_key, 1, [0, 1], [10, 20], [7], 0)]
    assert base not in variants and len(set(variants)) == len(variants)


# --- hyperparameters -------------------------------------------------------------------------
class FakeShape:
    """A runtime that has exactly the given AdminUtils calls and SubtensorModule storage items."""
    spec_version = 148

    def __init__(self, calls: dict[str, tuple[str, ...]], storage: set[str]):
        self.calls, self.storage = calls, storage

    def call_fields(self, pallet, call):
        return self.calls.get(call)

    def has_storage(self, pallet, item):
        return item in self.storage

    def module_error_name(self, index, error):
        return {(18, 0): "NetworkDoesNotExist"}.get((index, int(error[2:4], 16)), "Unknown")


def test_setter_reads_argument_names_from_the_runtime():
    shape = FakeShape({"sudo_set_tempo": ("netuid", "tempo"), "sudo_set_weights_min_stake": ("min_stake",)}, set())
    assert hyperparams.setter(shape, 3, "tempo", 10) == ("sudo_set_tempo", {"netuid": 3, "tempo": 10})
    assert hyperparams.setter(shape, 3, "min_allowed_stake", 5) == ("sudo_set_weights_min_stake", {"min_stake": 5})
    with pytest.raises(UnsupportedError, match="commit_reveal_enabled"):
        hyperparams.setter(shape, 3, "commit_reveal_enabled", True)
    with pytest.raises(ValueError, match="unknown hyperparameter"):
        hyperparams.setter(shape, 3, "tempoo", 1)


def test_storage_items_global_and_missing():
    shape = FakeShape({}, {"Tempo", "WeightsMinStake", "Kappa"})
    items = hyperparams.storage_items(shape, 7)
    assert items == {"tempo": ("Tempo", [7]), "min_allowed_stake": ("WeightsMinStake", []), "kappa": ("Kappa", [7])}
    hp = hyperparams.from_values({"tempo": 12, "kappa": None, "commit_reveal_enabled": 1})
    assert hp.tempo == 12 and hp.kappa == Hyperparameters().kappa and hp.commit_reveal_enabled is True


# --- errors ----------------------------------------------------------------------------------
def test_dispatch_error_names():
    shape = FakeShape({}, set())
    assert dispatch_error_name(shape, {"Module": {"index": 18, "error": "0x00000000"}}) == "NetworkDoesNotExist"
    assert dispatch_error_name(shape, "BadOrigin") == "BadOrigin"
    assert dispatch_error_name(shape, {"Token": "FundsUnavailable"}) == "TokenFundsUnavailable"


def test_pool_errors_are_typed():
    stale = _pool_error(SubstrateRequestException({"code": 1010, "message": "Invalid Transaction",
                                                   "data": "Transaction is outdated"}), "x")
    assert stale.name == "Stale" and "check the chain state" in stale.hint
    fees = _pool_error(SubstrateRequestException({"code": 1010, "message": "Invalid Transaction",
                                                  "data": "Inability to pay some fees (e.g. account balance too low)"}), "x")
    assert isinstance(fees, BalanceError)
    # subtensor's transaction-extension codes become the pallet error they stand for, in the node's
    # wording and in Chopsticks'
    gone = _pool_error(SubstrateRequestException({"code": 1010, "message": "Invalid Transaction", "data": "Custom error: 3"}), "x")
    assert type(gone) is ExtrinsicError and gone.name == "SubNetworkDoesNotExist" and "Custom error: 3" in str(gone)
    stake = _pool_error(SubstrateRequestException({"code": 1010, "message": '{"invalid":{"custom":5}}'}), "x")
    assert isinstance(stake, BalanceError) and stake.name == "NotEnoughStakeToWithdraw"
    unreg = _pool_error(SubstrateRequestException({"code": 1010, "message": '{"invalid":{"custom":10}}'}), "x")
    assert isinstance(unreg, NotRegisteredError)
    other = _pool_error(SubstrateRequestException({"code": 1010, "message": "Invalid Transaction", "data": "Custom error: 99"}), "x")
    assert type(other) is ExtrinsicError and other.name == "InvalidTransaction" and "Custom error: 99" in str(other)


def test_address_normalises_any_prefix_and_rejects_garbage():
    alice = Keypair.create_from_uri("//Alice")
    bittensor_format = ss58_encode(ss58_decode(alice.ss58_address), 13116)
    assert bittensor_format != alice.ss58_address
    assert address(bittensor_format) == alice.ss58_address
    with pytest.raises(ChainError, match="not an ss58 address"):
        address("5notanaddress")


# --- hand-decoded storage values (metagraph) ---------------------------------------------------
@given(st.lists(st.tuples(st.integers(0, 65535), st.integers(0, 65535)), max_size=300))
def test_pairs_decode_what_scalecodec_encodes(pairs):
    from chain.subtensor.metagraph import _pairs
    data = _RC.create_scale_object("Vec<(u16, u16)>").encode(pairs).data
    assert _pairs(bytes(data)).tolist() == [list(p) for p in pairs]


def test_matrix_ignores_dests_outside_the_uid_space():
    from chain.subtensor.metagraph import _matrix
    rows = [bytes(_RC.create_scale_object("Vec<(u16, u16)>").encode([(1, 7), (5, 9)]).data), None]
    assert _matrix(rows, 2).tolist() == [[0, 7], [0, 0]]


# --- call arguments from the metadata's types (NetUid newtype, mechanism id) ----------------
def _registry(types: list[tuple[int, list[str], dict]]):
    """A scale-info type registry (as a runtime's metadata declares one) of (id, path, definition)."""
    from scalecodec.base import RuntimeConfigurationObject

    rc = RuntimeConfigurationObject(implements_scale_info=True)
    rc.update_type_registry(load_type_registry_preset("core"))
    portable = []
    for i, path, definition in types:
        obj = rc.create_scale_object("PortableType")
        obj.encode({"id": i, "type": {"path": path, "params": [], "def": definition, "docs": []}})
        portable.append(obj)
    rc.update_from_scale_info_types(portable)
    return rc


def _struct(*fields: tuple[str | None, int]) -> dict:
    return {"composite": {"fields": [{"name": n, "type": t, "typeName": None, "docs": []} for n, t in fields]}}


def _registry_with_newtypes():
    """As a 2026 runtime declares them: NetUid(u16) and MechId(u8) as one-field composites (unnamed),
    and a named one-field struct."""
    return _registry([(0, [], {"primitive": "u16"}), (1, ["subtensor_runtime_common", "NetUid"], _struct((None, 0))),
                      (2, [], {"primitive": "u8"}), (3, ["subtensor_runtime_common", "MechId"], _struct((None, 2))),
                      (4, [], {"primitive": "u64"}), (5, ["Wrapped"], _struct(("netuid", 0)))])


def test_call_args_follow_the_metadata_netuid_newtype_and_mechanism_id():
    from chain.subtensor.runtime import pick_params

    rc = _registry_with_newtypes()
    fields = ("netuid", "mecid", "commit", "reveal_round", "commit_reveal_version")   # commit_timelocked_mechanism_weights
    args = pick_params(fields, {"netuid": 7, "commit": "0x01", "reveal_round": 9, "commit_reveal_version": 4}, "t")
    assert list(args) == list(fields) and args["mecid"] == 0                      # the default mechanism
    assert pick_params(("netuid", "mechid"), {"netuid": 7, "mechid": 2}, "t") == {"netuid": 7, "mechid": 2}
    assert pick_params(("mecid",), {"mechid": 3}, "t") == {"mecid": 3}            # either spelling
    # the bare values encode through the declared newtypes exactly as the runtime decodes them
    assert rc.create_scale_object("scale_info::1").encode(args["netuid"]).data == bytes([7, 0])
    assert rc.create_scale_object("scale_info::5").encode(args["netuid"]).data == bytes([7, 0])
    assert rc.create_scale_object("scale_info::3").encode(args["mecid"]).data == bytes([0])
    with pytest.raises(UnsupportedError, match="netuid") as err:
        pick_params(("hotkey", "netuid", "amount_staked"), {"hotkey": "x", "amount_staked": 1}, "add_stake")
    assert "netuid" in err.value.hint


def test_commit_hash_with_and_without_salt():
    pk = Keypair.create_from_uri("//Alice").public_key
    salted = commit_hash(pk, 3, [0, 1], [65535, 100], [1, 2], 0)
    assert salted != commit_hash(pk, 3, [0, 1], [65535, 100], None, 0)           # spec 185: no salt
    assert salted != commit_hash(pk, 3, [0, 1], [65535, 100], [1, 3], 0)
    assert len(salted) == 66 and salted.startswith("0x")


def test_u64f64_values_from_substrate_interface():
    from chain.subtensor.backend import u64f64

    assert u64f64({"bits": 3 << 63}) == 1.5 and u64f64(1 << 64) == 1.0 and u64f64(None) == 0.0


# --- the metagraph's AxonInfo layout from the metadata ------------------------------------------------
def _axon_registry():
    """AxonInfo as the runtime declares it (the known field order, id 10) and a reordered variant with
    a u32 field added (id 11), to check the reader follows the metadata rather than a fixed layout."""
    prims = [(i, [], {"primitive": p}) for i, p in enumerate(["u8", "u16", "u32", "u64", "u128", "bool"])]
    u8, u16, u32, u64, u128, boolean = range(6)
    struct = _struct
    known = struct(("block", u64), ("version", u32), ("ip", u128), ("port", u16), ("ip_type", u8), ("protocol", u8),
                   ("placeholder1", u8), ("placeholder2", u8))
    moved = struct(("ip", u128), ("ip_type", u8), ("port", u16), ("protocol", u8), ("version", u32),
                   ("mechanism", u32), ("block", u64))
    odd = struct(("version", u32), ("ip", u128), ("port", u16), ("ip_type", u8), ("protocol", u8), ("flag", boolean))
    return _registry(prims + [(10, ["AxonInfo"], known), (11, ["AxonInfo"], moved), (12, ["AxonInfo"], odd)])


@pytest.mark.parametrize("type_id", [10, 11])
def test_axon_reader_follows_the_metadata_field_order(type_id):
    from chain.subtensor.metagraph import axon_layout_of, decode_axon
    from chain.types import AxonInfo

    rc = _axon_registry()
    mapping = rc.get_decoder_class(f"scale_info::{type_id}").type_mapping
    dtype = axon_layout_of(rc, f"scale_info::{type_id}")
    value = {"block": 77, "version": 3, "ip": int.from_bytes(bytes([127, 0, 0, 2]), "big"), "port": 8091, "ip_type": 4,
             "protocol": 4, "placeholder1": 0, "placeholder2": 0, "mechanism": 1}
    data = rc.create_scale_object(f"scale_info::{type_id}").encode({f: value[f] for f, _ in mapping}).data
    assert dtype.itemsize == len(data)
    assert decode_axon(bytes(data), dtype) == AxonInfo("127.0.0.2", 8091, 4, 3)
    six = dict(value, ip=int.from_bytes(bytes.fromhex("20010db8000000000000000000000001"), "big"), ip_type=6)
    data6 = rc.create_scale_object(f"scale_info::{type_id}").encode({f: six[f] for f, _ in mapping}).data
    assert decode_axon(bytes(data6), dtype).ip == "2001:db8::1"
    assert decode_axon(b"", dtype) is None and decode_axon(bytes(data)[:-1], dtype) is None


def test_axon_reader_refuses_a_layout_it_cannot_read():
    from chain.subtensor.metagraph import axon_dtype, axon_layout_of

    with pytest.raises(UnsupportedError, match="flag"):
        axon_layout_of(_axon_registry(), "scale_info::12")
    with pytest.raises(UnsupportedError, match="port"):
        axon_dtype([("version", "u32"), ("ip", "u128"), ("ip_type", "u8"), ("protocol", "u8")])


# --- per-mechanism storage (NetUidStorageIndex) --------------------------------------------------
class FakeShapeWithKeys:
    """Only RuntimeShape.key_types and spec_version (unit-test fake)."""
    def __init__(self, first_key: str, spec_version: int = 429):
        self.first_key, self.spec_version = first_key, spec_version

    def key_types(self, pallet, item):
        return (self.first_key, "U16")


def test_mechanism_items_follow_the_metadata_storage_index():
    from chain.subtensor.metagraph import MECHANISM_ITEMS, storage_index

    mech = FakeShapeWithKeys("NetUidStorageIndex")
    for item in MECHANISM_ITEMS:
        assert storage_index(mech, item, 3) == 3 and storage_index(mech, item, 3, 2) == 3 + 2 * 4096
    assert storage_index(mech, "Keys", 3, 2) == 3 and storage_index(mech, "Consensus", 3, 2) == 3  # per subnet
    flat = FakeShapeWithKeys("U16", 293)
    assert storage_index(flat, "Weights", 3) == 3
    with pytest.raises(UnsupportedError) as err:
        storage_index(flat, "Weights", 3, 1)
    assert "runtime spec 293 keeps one Weights per subnet" in str(err.value) and "--mechid 0" in err.value.hint
    with pytest.raises(UnsupportedError):
        storage_index(mech, "Weights", 3, 256)


def test_key_type_names_come_from_the_scale_info_path():
    from chain.subtensor.runtime import type_name

    rc = _registry_with_newtypes()
    assert [type_name(rc, f"scale_info::{i}") for i in (0, 1, 3)] == ["U16", "NetUid", "MechId"]
