"""Dynamic batching (neurons/batching.py): merged forwards give every request exactly its own answer,
a bad request fails only itself, deadlines close a batch early and abandoned requests never run;
end to end through a real Axon and Dendrite over gRPC with the subnet's own spec and model."""
from __future__ import annotations

import asyncio
import threading
import time

import pytest
import torch
from substrateinterface import Keypair

from neurons.axon import Axon, CallerInfo
from neurons.config.schema import AxonSection
from neurons.batching import Batcher, batchable, batching_enabled, merge, pick_device, signature, split
from neurons.dendrite import Dendrite, Endpoint
from neurons.miner import make_forward
from protocol.codes import ReturnCode


class Recorder(torch.nn.Module):
    """A small real torch model (row-wise MLP) that records the rows of every forward it runs.
    A request holding a negative id is one the model cannot handle: it raises."""

    def __init__(self, delay_s: float = 0.0):
        super().__init__()
        torch.manual_seed(0)
        self.net = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.GELU(), torch.nn.Linear(16, 3))
        self.rows: list[int] = []
        self.delay_s = delay_s
        self.started = threading.Event()

    def forward(self, request):
        self.started.set()
        ids = request["ids"]
        if (ids < 0).any():
            raise ValueError("negative id")
        time.sleep(self.delay_s)
        self.rows.append(ids.shape[0])
        y = self.net(request["x"][:, :4])  # [rows, 3] (wider requests: their first 4 columns)
        return {"y": y, "n": ids.sum(1)}  # [rows, 3], [rows]


def req(rows: int, seed: int, width: int = 4, bad: bool = False) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, 100, (rows, 2), generator=g)
    if bad:
        ids[0, 0] = -1
    return {"x": torch.randn(rows, width, generator=g), "ids": ids}


def alone(model, r):
    with torch.no_grad():
        return model(r)


def run(coro):
    return asyncio.run(coro)


def test_merge_and_split_are_inverse():
    reqs = [req(3, 1), req(1, 2), req(5, 3)]
    merged = merge(reqs)
    assert merged["x"].shape == (9, 4)
    for r, back in zip(reqs, split(merged, [3, 1, 5])):
        assert all(torch.equal(r[k], back[k]) for k in r)
    with pytest.raises(ValueError, match="cannot be batched"):
        split({"y": torch.zeros(2, 3)}, [3, 1])


def test_signature_separates_what_cannot_be_concatenated():
    assert signature(req(3, 1)) == signature(req(5, 2))[:1] + (3,)
    assert signature(req(3, 1))[0] != signature(req(3, 1, width=5))[0]
    assert signature({"a": torch.zeros(2), "b": torch.zeros(3)}) is None  # rows disagree
    assert signature({"a": torch.tensor(1.0)}) is None and signature({}) is None


def test_padded_tensors_merge_across_lengths():
    a, b = {"ids": torch.ones(2, 3, dtype=torch.long)}, {"ids": torch.full((1, 5), 7)}
    assert signature(a)[0] != signature(b)[0]
    assert signature(a, {"ids": 0})[0] == signature(b, {"ids": 0})[0]
    merged = merge([a, b], {"ids": 0})["ids"]  # [3, 5]: the short rows right-padded with 0
    assert merged.tolist() == [[1, 1, 1, 0, 0], [1, 1, 1, 0, 0], [7] * 5]


def test_only_subnets_declaring_independent_rows_are_batched():
    from subnets.template import Template
    from subnets.text_embedding import TextEmbedding

    assert batchable(TextEmbedding()) and not batchable(Template())


def test_concurrent_requests_are_merged_and_each_gets_its_own_rows():
    model = Recorder()
    reqs = [req(rows, seed) for seed, rows in enumerate([1, 3, 2, 4, 1, 2, 5, 2])]

    async def main():
        b = Batcher(model, max_rows=64, max_wait_s=0.5)
        deadline = asyncio.get_running_loop().time() + 10
        outs = await asyncio.gather(*(b.submit(r, deadline) for r in reqs))
        await b.close()
        return b, outs

    b, outs = run(main())
    assert model.rows == [20] and (b.forwards, b.requests) == (1, 8)  # one forward of all 20 rows
    for r, out in zip(reqs, outs):
        want = alone(model, r)
        assert out["y"].shape == (r["x"].shape[0], 3)
        assert torch.allclose(out["y"], want["y"], atol=1e-6) and torch.equal(out["n"], want["n"])


def test_batches_hold_at_most_max_rows_and_never_mix_signatures():
    model = Recorder()
    reqs = [req(3, i) for i in range(5)] + [req(2, 10 + i, width=5) for i in range(2)]

    async def main():
        b = Batcher(model, max_rows=6, max_wait_s=0.2)
        deadline = asyncio.get_running_loop().time() + 10
        outs = await asyncio.gather(*(b.submit(r, deadline) for r in reqs))
        await b.close()
        return outs

    outs = run(main())
    assert sorted(model.rows) == [3, 4, 6, 6]  # 5×3 rows of width 4 in batches of <= 6; 2×2 of width 5 apart
    assert [o["y"].shape[0] for o in outs] == [3] * 5 + [2] * 2


def test_a_bad_request_in_a_merged_batch_fails_only_itself():
    model = Recorder()
    reqs = [req(2, 1), req(3, 2, bad=True), req(1, 3)]

    async def main():
        b = Batcher(model, max_rows=64, max_wait_s=0.5)
        deadline = asyncio.get_running_loop().time() + 10
        outs = await asyncio.gather(*(b.submit(r, deadline) for r in reqs), return_exceptions=True)
        await b.close()
        return outs

    good1, bad, good2 = run(main())
    assert isinstance(bad, ValueError) and "negative id" in str(bad)
    assert torch.allclose(good1["y"], alone(model, reqs[0])["y"], atol=1e-6)
    assert torch.allclose(good2["y"], alone(model, reqs[2])["y"], atol=1e-6)


def test_a_near_deadline_closes_the_batch_early():
    model = Recorder()

    async def main():
        loop = asyncio.get_running_loop()
        b = Batcher(model, max_rows=64, max_wait_s=30.0)  # would wait 30 s for company
        t0 = loop.time()
        out = await b.submit(req(2, 1), loop.time() + 1.0)
        took = loop.time() - t0
        await b.close()
        return out, took

    out, took = run(main())
    assert out["y"].shape == (2, 3) and took < 1.0  # answered before its deadline, not after 30 s


def test_a_request_abandoned_at_its_deadline_never_runs():
    model = Recorder(delay_s=0.3)

    async def main():
        loop = asyncio.get_running_loop()
        b = Batcher(model, max_rows=64, max_wait_s=0.0)
        first = loop.create_task(b.submit(req(1, 1), loop.time() + 10))
        await loop.run_in_executor(None, model.started.wait)  # the worker is busy with `first`
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.05):  # the axon cancels a handler like this at its deadline
                await b.submit(req(7, 2), loop.time() + 0.05)
        third = await b.submit(req(2, 3), loop.time() + 10)
        await first
        await b.close()
        return third

    assert run(main())["y"].shape == (2, 3)
    assert model.rows == [1, 2]  # the 7-row request was dropped, not run


def test_batching_is_off_on_cpu_unless_asked():
    cpu = torch.device("cpu")
    assert pick_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert not batching_enabled("auto", cpu) and batching_enabled("on", cpu) and not batching_enabled("off", cpu)
    assert batching_enabled("auto", torch.device("cuda"))
    with pytest.raises(ValueError):
        batching_enabled("sometimes", cpu)
    with pytest.raises(ValueError, match="not a torch device"):
        pick_device("gpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA device"):
            pick_device("cuda")


def test_miner_batches_concurrent_validators_over_grpc():
    """Four validators query one miner at once with the text-embedding spec and its bag-of-words model:
    every answer is the unbatched one, fewer forwards ran than requests, a malformed request fails alone."""
    from subnets.text_embedding import TextEmbedding
    from subnets.text_embedding.miners import BagOfWords

    spec, model = TextEmbedding(), BagOfWords()
    assert batchable(spec)
    miner = Keypair.create_from_uri("//BatchingTestMiner")
    validators = [Keypair.create_from_uri(f"//BatchingTestValidator{i}") for i in range(4)]
    table = {v.ss58_address: CallerInfo(i, 100.0, True) for i, v in enumerate(validators)}
    challenges = [spec.challenge(seed, 2 + seed).request for seed in range(4)]
    bad = dict(challenges[0], query_ids=challenges[0]["query_ids"][:1])  # rows disagree: INVALID_REQUEST

    async def main():
        batcher = Batcher(model.forward, max_rows=64, max_wait_s=0.2, pad=spec.batch_pad)
        axon = Axon(miner, caller_info=table.get, config=AxonSection(concurrency=16))
        axon.attach(spec.synapse, make_forward(spec, model, batcher=batcher))
        await axon.start()
        ep = Endpoint(miner.ss58_address, "127.0.0.1", axon.port)
        try:
            dendrites = [Dendrite(v) for v in validators]
            results = await asyncio.gather(*(d.query([ep], spec.synapse, c, timeout=10)
                                              for d, c in zip(dendrites, challenges)),
                                           dendrites[0].query([ep], spec.synapse, bad, timeout=10))
            for d in dendrites:
                await d.close()
        finally:
            await axon.stop(0)
            await batcher.close()
        return batcher, [r for [r] in results]

    batcher, results = run(main())
    *good, rejected = results
    assert rejected.code == ReturnCode.INVALID_REQUEST
    for r, c in zip(good, challenges):
        assert r.code == ReturnCode.SUCCESS, r
        want = model.forward(c)
        for k in want:
            assert torch.allclose(r.tensors[k], want[k], atol=1e-5), k
    assert batcher.requests == 4 and batcher.forwards < 4


def test_a_batch_takes_no_more_rows_than_fit_before_its_nearest_deadline():
    model = Recorder()

    async def main():
        loop = asyncio.get_running_loop()
        b = Batcher(model, max_rows=64, max_wait_s=1.0)
        b.row_s = 0.1  # as if a forward had taken 0.1 s per row
        now = loop.time()
        outs = await asyncio.gather(b.submit(req(4, 1), now + 0.6),  # 4 rows fit in 0.6 s, 8 would not
                                    b.submit(req(4, 2), now + 10), b.submit(req(4, 3), now + 10))
        await b.close()
        return outs

    outs = run(main())
    assert model.rows == [4, 8] and [o["y"].shape[0] for o in outs] == [4, 4, 4]
