"""`neuron miner` and `neuron validator` as an operator runs them: subprocesses on a temp dev ledger.

A miner checks its address and port before it loads its model, never prints a traceback, and
stops within 10 s of SIGINT or SIGTERM; so does a validator. The subnet is a `.py` file, as
`neuron subnet new` writes one, to show that every command takes the same references.
"""
from __future__ import annotations

import ipaddress
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from substrateinterface import Keypair

from chain import connect
from neurons import address
from neurons.address import AddressError, announce_address

REPO = Path(__file__).resolve().parents[2]
NEURON = [sys.executable, "-m", "neurons.cli.main"]
# the template subnet, with a reference model that leaves a mark when it is built
SUBNET_PY = (REPO / "subnets" / "template.py").read_text() + '''

class _Marked(Exact):
    def __init__(self, seed):
        import os
        open(os.environ["MODEL_MARK"], "w").close()
        super().__init__(seed)


Template.miners = lambda self: {"exact": _Marked}
'''


@pytest.fixture(scope="module")
def ledger(tmp_path_factory):
    """(dev ledger url, netuid, directory with my_subnet.py): //Bob registered as a miner, //Charlie as a validator."""
    root = tmp_path_factory.mktemp("miner_cli")
    (root / "my_subnet.py").write_text(SUBNET_PY)
    url = f"dev:{root / 'ledger.sqlite'}"
    with connect(url) as chain:
        netuid = chain.create_subnet(Keypair.create_from_uri("//Alice"))
        for name in ("Bob", "Charlie"):
            chain.register(netuid, Keypair.create_from_uri(f"//{name}//default").ss58_address,
                           Keypair.create_from_uri(f"//{name}"))
    return url, netuid, root


def _env(root: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("OPENSUBNET_")}
    return {**env, "HOME": str(root / "home"), "MODEL_MARK": str(root / "model-built"), "PYTHONUNBUFFERED": "1"}


def _miner_args(url, netuid, *extra) -> list[str]:
    return [*NEURON, "miner", "--chain", url, "--netuid", str(netuid), "--wallet", "//Bob",
            "--subnet", "my_subnet.py", "--miner.model", "exact", *extra]


def _run(args, root, timeout=60) -> subprocess.CompletedProcess:
    (root / "model-built").unlink(missing_ok=True)
    return subprocess.run(args, cwd=root, env=_env(root), capture_output=True, text=True, timeout=timeout)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_chains_loopback_rule_is_checked_before_the_model_loads(ledger):
    url, netuid, root = ledger
    p = _run(_miner_args(url, netuid, "--axon.external_ip", "127.0.0.1", "--axon.port", str(_free_port())), root)
    assert p.returncode == 2, p.stderr
    assert "error: --axon.external_ip 127.0.0.1: InvalidIpAddress" in p.stderr and "use 127.0.0.2" in p.stderr
    assert "Traceback" not in p.stderr and not (root / "model-built").exists()


def test_a_port_in_use_is_one_line_before_the_model_loads(ledger):
    url, netuid, root = ledger
    with socket.socket() as holder:
        holder.bind(("0.0.0.0", 0))
        holder.listen()
        port = holder.getsockname()[1]
        p = _run(_miner_args(url, netuid, "--axon.port", str(port)), root)
    assert p.returncode == 2, p.stderr
    assert f"error: cannot bind 0.0.0.0:{port}: port {port} is in use" in p.stderr and "--axon.port" in p.stderr
    assert "Traceback" not in p.stderr and "grpc" not in p.stderr.lower()
    assert not (root / "model-built").exists()


def test_a_non_local_chain_needs_an_address_validators_can_reach(ledger):
    """Refused before the chain is dialled (node.invalid does not resolve) and before the model loads."""
    _, netuid, root = ledger
    p = _run(_miner_args("wss://node.invalid:443", netuid, "--axon.external_ip", "127.0.0.2"), root)
    assert p.returncode == 2, p.stderr
    assert "127.0.0.2 is a loopback address: validators of wss://node.invalid:443" in p.stderr
    assert "Traceback" not in p.stderr and not (root / "model-built").exists()


def _start(args, root, log: Path) -> subprocess.Popen:
    return subprocess.Popen(args, cwd=root, env=_env(root), stdout=log.open("w"), stderr=subprocess.STDOUT)


def _wait_for(proc: subprocess.Popen, log: Path, text: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while text not in log.read_text():
        assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.2)


def _stop(proc: subprocess.Popen, sig: int, log: Path) -> float:
    t0 = time.monotonic()
    proc.send_signal(sig)
    try:
        rc = proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail(f"no exit within 10 s of {signal.Signals(sig).name}:\n{log.read_text()[-3000:]}")
    text = log.read_text()
    assert rc in (0, 130), text[-3000:]
    assert "Traceback" not in text and "Event loop is closed" not in text, text[-3000:]
    return time.monotonic() - t0


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_miner_and_validator_serve_a_py_subnet_and_stop_on_a_signal(ledger, sig):
    url, netuid, root = ledger
    port = _free_port()
    mlog, vlog = root / f"miner-{sig}.log", root / f"validator-{sig}.log"
    # a fresh subnet has run no epoch, so no validator permit yet: serve registered callers without one
    miner = _start(_miner_args(url, netuid, "--axon.port", str(port), "--no-axon.require_validator_permit"), root, mlog)
    validator = None
    try:
        _wait_for(miner, mlog, "miner uid")
        assert (root / "model-built").exists()
        assert f"announced 127.0.0.2:{port}" in mlog.read_text()  # local chain: loopback the runtime accepts
        with connect(url) as chain:
            axon = chain.metagraph(netuid).axons[chain.uid(netuid, Keypair.create_from_uri("//Bob//default").ss58_address)]
            assert (axon.ip, axon.port) == ("127.0.0.2", port)
        validator = _start([*NEURON, "validator", "--chain", url, "--netuid", str(netuid), "--wallet", "//Charlie",
                            "--subnet", "my_subnet.py", "--validator.state_dir", str(root / f"state-{sig}"),
                            "--pause", "0.2"], root, vlog)
        _wait_for(validator, vlog, "step 1 seed")
        assert "uid:code/score 0:SUCC/" in vlog.read_text()  # the miner (uid 0) answered
        miner.send_signal(signal.SIGSTOP)  # a miner that never answers: the validator waits out its step...
        time.sleep(1.0)
        assert _stop(validator, sig, vlog) < 10  # ...unless it is told to stop
        validator = None
        miner.send_signal(signal.SIGCONT)
        assert _stop(miner, sig, mlog) < 10
    finally:
        for p in (miner, validator):
            if p is not None and p.poll() is None:
                p.kill()


# --- the address rule alone (route_source replaced by a fake: this machine's real route varies) ------

@pytest.mark.parametrize("chain_url, route, expected", [
    ("wss://node.example:443", "203.0.113.7", None),             # no: a documentation address is not global
    ("wss://node.example:443", "8.8.4.4", "8.8.4.4"),            # a public address: announced
    ("wss://node.example:443", "10.1.2.3", None),                # behind NAT: refused, with the way out
    ("wss://node.example:443", None, None),                      # no route at all
    ("ws://10.0.0.5:9944", "10.0.0.9", "10.0.0.9"),              # a private network's chain: its own addresses
    ("ws://127.0.0.1:9944", "8.8.4.4", "127.0.0.2"),             # a node on this machine is a local chain
    ("dev:/tmp/x.sqlite", None, "127.0.0.2"),
    ("local", None, "127.0.0.2"),
])
def test_the_announced_address(monkeypatch, chain_url, route, expected):
    probed = []
    monkeypatch.setattr(address, "route_source", lambda target: probed.append(target) or route)
    if expected is None:
        with pytest.raises(AddressError, match="no address to announce") as e:
            announce_address("0.0.0.0", None, chain_url)
        assert "--axon.external_ip" in e.value.hint
    else:
        ip, how = announce_address("0.0.0.0", None, chain_url)
        assert ip == expected and how
    if chain_url.startswith("ws://10."):
        assert probed == ["10.0.0.5"]  # the route toward the chain itself


def test_explicit_and_bound_addresses():
    assert announce_address("0.0.0.0", "8.8.4.4", "wss://node.example:443")[0] == "8.8.4.4"
    assert announce_address("127.0.0.5", None, "dev:/tmp/x.sqlite")[0] == "127.0.0.5"  # the one bound address
    with pytest.raises(AddressError, match="cannot announce --axon.host 127.0.0.1"):
        announce_address("127.0.0.1", None, "dev:/tmp/x.sqlite")
    with pytest.raises(AddressError, match="InvalidIpAddress"):
        announce_address("0.0.0.0", "not-an-ip", "dev:/tmp/x.sqlite")
    with pytest.raises(AddressError, match="::1: InvalidIpAddress"):
        announce_address("0.0.0.0", "::1", "dev:/tmp/x.sqlite")
    assert ipaddress.ip_address(address.route_source("127.0.0.1")).is_loopback  # the real probe, on loopback
