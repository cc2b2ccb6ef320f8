"""--metrics.port: a real `neuron miner` process and an in-process validator on a dev ledger serve Prometheus
metrics over HTTP; the validator writes its per-miner table to STATE_DIR/miners.json every step."""
from __future__ import annotations

import asyncio
import io
import json
import socket
import threading
import time
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from chain.dev import DevChain
from chain.errors import ChainConnectionError
from neurons.config.schema import NeuronConfig
from neurons.dendrite.result import Endpoint, Result
from neurons.localsubnet.plan import NeuronPlan
from neurons.localsubnet.procs import Children
from neurons.localsubnet.runner import AXON_IP, LocalSubnet
from neurons.metrics_server import MetricsServerError
from neurons.miner import preflight
from neurons.validator.loop import Validator
from neurons.validator.metrics import ValidatorMetrics
from neurons.validator.report import StepReport, miner_rows, render_table
from neurons.wallet import DevWallet
from protocol.codes import ReturnCode
from subnets.text_embedding import TextEmbedding


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _scrape(port: int) -> dict[tuple[str, tuple], float]:
    """GET /metrics → {(sample name, sorted labels): value}."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


def _value(samples: dict, name: str, **labels) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


class FlakyDevChain(DevChain):
    """The dev ledger whose next metagraph read fails as an unreachable node does (test double for one outage)."""
    failures = 0

    def metagraph(self, netuid, block=None):
        if self.failures:
            self.failures -= 1
            raise ChainConnectionError("chain unreachable: ConnectionRefusedError")
        return super().metagraph(netuid, block)


def test_miner_and_validator_serve_metrics_and_the_table(tmp_path):
    chain = FlakyDevChain(str(tmp_path / "chain.sqlite"))
    plan = [NeuronPlan("miner", "m1", model="bow"), NeuronPlan("validator", "v1", stake_tao=10)]
    sub = LocalSubnet(chain, chain.url, "text-embedding", plan, tmp_path)
    sub.create({})
    sub.register_all()
    chain.advance_blocks(sub.tempo + 2)       # an epoch: the staked validator gets the permit miners require
    children = Children(tmp_path / "logs")
    miner_metrics = _free_port()
    try:
        children.python("m1", ["miner", "--chain", chain.url, "--netuid", str(sub.netuid), "--wallet", "//opensubnet/m1",
                               "--miner.model", "bow", "--axon.host", AXON_IP, "--axon.external_ip", AXON_IP,
                               "--axon.port", str(_free_port()), "--metrics.port", str(miner_metrics)])
        deadline = time.monotonic() + 120
        while not ((ax := chain.metagraph(sub.netuid).axons[sub.uids["m1"]]) and ax.serving):
            assert not children.dead() and time.monotonic() < deadline, children.items[0].tail(30)
            time.sleep(0.2)

        state = tmp_path / "state"
        cfg = NeuronConfig(chain={"url": chain.url, "netuid": sub.netuid}, subnet={"name": "text-embedding"},
                           validator={"state_dir": str(state), "batch_size": 4, "weights_interval_blocks": 1},
                           metrics={"port": 0}, scoring={"confidence_z": 0})  # weigh from the first score
        v = Validator(cfg, spec=TextEmbedding(), hotkey=DevWallet("//opensubnet/v1").hotkey(), chain=chain)
        v.sync.interval_s = 0
        chain.failures = 1                    # the first step meets an unreachable chain
        seen: list[dict] = []

        def poll() -> None:  # scrape while the validator runs (its server closes when it stops)
            while not done.is_set():
                if (port := v.report.metrics.port) is not None:
                    try:
                        seen.append(_scrape(port))
                    except OSError:
                        pass
                time.sleep(0.05)

        done = threading.Event()
        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        asyncio.run(v.run(max_steps=3, pause_s=1.0))
        done.set()
        poller.join()

        miner = _scrape(miner_metrics)
    finally:
        children.stop_all()
        chain.close()

    mu, vu = sub.uids["m1"], sub.uids["v1"]
    # the miner: requests and latency by synapse and code, queue depth, held refusals
    answered = _value(miner, "axon_requests_total", synapse="TextEmbedding", code="SUCCESS")
    assert answered is not None and answered >= 3
    assert _value(miner, "axon_request_seconds_count", synapse="TextEmbedding", code="SUCCESS") == answered
    assert _value(miner, "axon_queue_depth") == 0 and _value(miner, "axon_held_refusals") == 0

    # the validator: the last scrape taken while it ran, after its third step
    last = seen[-1]
    assert _value(last, "validator_steps_total") == 3 and _value(last, "validator_step_seconds_count") == 3
    assert _value(last, "validator_chain_errors_total", kind="ChainConnectionError") == 1
    assert _value(last, "validator_miner_requests_total", code="SUCCESS") == 3
    assert _value(last, "validator_miner_seconds_count", code="SUCCESS") == 3
    submitted = _value(last, "validator_weights_submitted_total")
    refused = sum(val for (name, _), val in last.items() if name == "validator_weights_refused_total")
    assert submitted >= 1 and submitted + refused == 3, [k for k in last if k[0] == "validator_weights_refused_total"]
    assert _value(last, "validator_last_weights_block") == v.state.last_weights_block
    assert _value(last, "validator_score", uid=str(mu)) == pytest.approx(float(v.moe.scores[mu]))
    assert _value(last, "validator_weight", uid=str(mu)) == pytest.approx(float(v.moe.weights()[mu]))
    assert _value(last, "validator_weight", uid=str(vu)) == 0

    table = json.loads((v.store.dir / "miners.json").read_text())
    assert table["step"] == 3 and table["weights_block"] == v.state.last_weights_block
    assert [r["uid"] for r in table["miners"]] == [mu]
    row = table["miners"][0]
    assert row["hotkey"] == DevWallet("//opensubnet/m1").hotkey().ss58_address and row["code"] == "SUCCESS"
    assert row["latency_ms"] > 0
    # the one miner gets all the weight, or none while its score is not positive (a bag-of-words
    # model can score below the uniform guess on three batches of 4)
    assert row["score"] == pytest.approx(float(v.moe.scores[mu]))
    assert row["weight"] == pytest.approx(float(v.moe.weights()[mu])) and row["weight"] in (0.0, pytest.approx(1.0))
    assert not list(v.store.dir.glob(".miners.json.*"))  # atomic writes leave no temp file


def _result(uid: int, hotkey: str, code: ReturnCode, latency_s: float) -> Result:
    return Result(Endpoint(hotkey, "127.0.0.2", 1, uid), code, latency_s)


def test_terminal_table_and_rows(tmp_path):
    out = io.StringIO()
    report = StepReport(tmp_path, out=out, tty=True)
    hotkeys = ["5Aval", "5Bminer", "5Cminer", "5Didle"]
    rows = report.step(step=7, block=70, hotkeys=hotkeys, seconds=0.5, weights_submitted=False, weights_block=-1,
                       why_not="interval", results=[_result(1, "5Bminer", ReturnCode.SUCCESS, 0.0123),
                                                    _result(2, "5Cminer", ReturnCode.TIMEOUT, 2.0)],
                       scores=[0.0, 0.25, -0.1, 0.0], weights=[0.0, 1.0, 0.0, 0.0])
    assert [(r.uid, r.code, r.latency_ms) for r in rows] == [(1, "SUCCESS", 12.3), (2, "TIMEOUT", 2000.0)]
    text = out.getvalue()
    assert text.startswith("\x1b[H\x1b[2J") and "validator step 7  block 70" in text
    assert "5Bminer" in text and "TIMEOUT" in text and "5Didle" not in text
    assert json.loads((tmp_path / "miners.json").read_text())["miners"][1]["code"] == "TIMEOUT"

    # uid 2 changed hands: its old answer is not shown against the new hotkey
    assert [r.uid for r in miner_rows(["5Aval", "5Bminer", "5Enew"], {1: ("5Bminer", "SUCCESS", 0.01),
                                                                        2: ("5Cminer", "TIMEOUT", 2.0)},
                                      [0, 0.2, 0], [0, 1, 0])] == [1]
    assert "(no miner asked or scored yet)" in render_table([], "t")

    quiet = io.StringIO()
    StepReport(tmp_path, out=quiet, tty=False).step(step=1, block=1, hotkeys=hotkeys, results=[], scores=[0] * 4,
                                                    weights=[0] * 4, seconds=0.1, weights_submitted=False,
                                                    weights_block=-1, why_not="no-scores")
    assert quiet.getvalue() == ""  # off a terminal: the step's log line only


def test_metrics_port_in_use_is_a_typed_error(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(MetricsServerError, match=f"validator metrics port 127.0.0.1:{port} is in use") as e:
            ValidatorMetrics().serve(port)
        assert "--metrics.port" in e.value.hint
        # the miner finds out in its preflight, before the chain is dialled and the model loads
        cfg = NeuronConfig(chain={"url": f"dev:{tmp_path / 'c.sqlite'}"}, metrics={"port": port},
                           axon={"host": AXON_IP, "external_ip": AXON_IP, "port": _free_port()})
        with pytest.raises(MetricsServerError, match="axon metrics port .* is in use"):
            preflight(cfg)


def test_metrics_flag_parses_for_miner_and_validator():
    from neurons.cli.main import build_parser
    from neurons.config import load_config
    for cmd in ("miner", "validator"):
        args = build_parser().parse_args([cmd, "--metrics.port", "9100", "--metrics.host", "0.0.0.0"])
        cfg = load_config(args)
        assert (cfg.metrics.port, cfg.metrics.host) == (9100, "0.0.0.0")
