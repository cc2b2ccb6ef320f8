"""Faulty miners behind the real Axon, for fault-injection tests (one process, one axon per fault).

    python tests/reliability/faulty_miner.py --chain dev:PATH --netuid N FAULT=NAME [FAULT=NAME ...]

NAME is the plan name whose dev hotkey (//opensubnet/NAME//default) the axon serves and announces
on chain. Each fault is a FakeModel that answers the text-embedding synapse wrongly on purpose:

  hang     blocks its handler thread for 60 s (far past any deadline)
  shape    query_emb of width 100 instead of 384
  dtype    float64 embeddings instead of float32
  nan      NaN embeddings
  huge     a 100 MB code_emb (the axon's own answer limit is raised so it really goes out)
  raises   the handler raises (a bug in the miner)
  die      SIGKILLs its own process while handling the request (a crash mid-request)
  impostor signs with a key other than the registered hotkey the chain advertises
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import time

import torch

from chain import connect
from neurons.axon import Axon
from neurons.config.schema import AxonSection
from neurons.localsubnet.runner import AXON_IP
from neurons.sync import MetagraphSync
from neurons.wallet import DevWallet

DIM = 384
HUGE_BYTES = 100 << 20


def _emb(batch: int, dtype=torch.float32, width: int = DIM) -> torch.Tensor:
    return torch.nn.functional.normalize(torch.randn(batch, width), dim=-1).to(dtype)


class FakeModel:
    """forward(call) for one fault; `batch` follows the request like a real miner's would."""

    def __init__(self, fault: str):
        if not hasattr(self, f"_{fault}"):
            raise SystemExit(f"unknown fault {fault!r}")
        self.fault = fault

    def __call__(self, call):
        return getattr(self, f"_{self.fault}")(call.tensors["query_ids"].shape[0])

    def _hang(self, b):
        time.sleep(60)
        return {"query_emb": _emb(b), "code_emb": _emb(b)}

    def _shape(self, b):
        return {"query_emb": _emb(b, width=100), "code_emb": _emb(b)}

    def _dtype(self, b):
        return {"query_emb": _emb(b, torch.float64), "code_emb": _emb(b, torch.float64)}

    def _nan(self, b):
        return {"query_emb": torch.full((b, DIM), float("nan")), "code_emb": _emb(b)}

    def _huge(self, b):
        return {"query_emb": _emb(b), "code_emb": torch.zeros(HUGE_BYTES // (4 * DIM), DIM)}

    def _raises(self, b):
        raise RuntimeError("FakeModel: a bug in the miner's model")

    def _die(self, b):
        os.kill(os.getpid(), signal.SIGKILL)

    def _impostor(self, b):  # a good answer; the key it is signed with is the fault
        return {"query_emb": _emb(b), "code_emb": _emb(b)}


async def main(args) -> None:
    chain = connect(args.chain)
    sync = MetagraphSync(chain, args.netuid, interval_s=2.0)
    axons = []
    for item in args.faults:
        fault, _, name = item.partition("=")
        registered = DevWallet(f"//opensubnet/{name}").hotkey()
        signer = DevWallet("//opensubnet/not-registered").hotkey() if fault == "impostor" else registered
        cfg = AxonSection(max_response_bytes=HUGE_BYTES + (16 << 20), timeout_s=30)
        axon = Axon(signer, caller_info=sync.caller_info, host=AXON_IP, port=0, config=cfg)
        axon.attach("TextEmbedding", FakeModel(fault))
        port = await axon.start()
        chain.serve_axon(args.netuid, registered, AXON_IP, port)
        axons.append(axon)
        logging.info("fault %s as %s on %s:%d", fault, name, AXON_IP, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), 2.0)
        except asyncio.TimeoutError:
            sync.refresh()
    for axon in axons:
        await axon.stop(0)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(asctime)s %(levelname)s %(message)s")
    torch.set_num_threads(1)
    p = argparse.ArgumentParser()
    p.add_argument("--chain", required=True)
    p.add_argument("--netuid", type=int, required=True)
    p.add_argument("faults", nargs="+", help="FAULT=NAME")
    asyncio.run(main(p.parse_args()))
    os._exit(0)  # do not wait for the "hang" handler's thread at exit
