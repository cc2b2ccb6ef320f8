"""The API's answer on the wire, for both built-in subnets: spec.answer → tensors → spec.from_answer
gives back the mixture, and a malformed answer from a validator is a typed error, never a crash."""
from __future__ import annotations

import pytest
import torch

from neurons.dendrite import Endpoint, Result
from neurons.validator.api_client import read_answer
from protocol.codes import ReturnCode
from subnets.registry import get
from subnets.spec import SpecError

TEXTS = ["def read(path): return open(path).read()", "import socket", "json.loads(text)"]


@pytest.fixture(scope="module", params=["text-embedding", "text-next-token"])
def case(request):
    """(spec, request tensors, the mixture of two reference miners' answers)."""
    spec = get(request.param)
    req = spec.request_from_text(TEXTS)
    outputs = [factory(0).forward(req) for name, factory in sorted(spec.miners().items())
               if name in ("bow", "random", "ngram", "uniform")]
    weights = torch.softmax(torch.randn(len(TEXTS), len(outputs), generator=torch.Generator().manual_seed(0)), 1)
    return spec, req, spec.combine(outputs, weights)


def wire(tensors: dict) -> dict:
    """What the application decodes: fresh tensors, as after the codec."""
    return {k: v.detach().clone() for k, v in tensors.items()}


def test_answer_round_trip_renders_the_same(case):
    spec, req, mixture = case
    back = spec.from_answer(wire(spec.answer(mixture)), req)
    assert spec.render(back, req) == spec.render(mixture, req)
    assert len(spec.render(back, req)) == len(TEXTS)


def test_malformed_answers_are_spec_errors(case):
    spec, req, mixture = case
    good = wire(spec.answer(mixture))
    name, t = next((k, v) for k, v in good.items() if v.is_floating_point())
    broken = [
        {**good, name: t[:-1]},                                  # wrong batch
        {**good, name: torch.full_like(t, float("nan"))},        # not finite
        {**good, "extra": torch.zeros(1)},                       # unexpected tensor
        {k: v for k, v in good.items() if k != name},            # missing tensor
        {**good, name: t.double()},                              # wrong dtype
    ]
    for answer in broken:
        with pytest.raises(SpecError):
            spec.from_answer(answer, req)


def result(tensors: dict) -> Result:
    return Result(Endpoint("hk", "127.0.0.2", 1), ReturnCode.SUCCESS, 0.01, tensors=tensors)


def test_read_answer_checks_the_contributors(case):
    spec, req, mixture = case
    body = {**wire(spec.answer(mixture)), "uids": torch.tensor([3, 5]), "weights": torch.full((3, 2), 0.5)}
    answer = read_answer(spec, result(body), req)
    assert answer.uids == [3, 5] and answer.weights.shape == (3, 2)
    for bad in ({"uids": torch.tensor([3.0, 5.0])}, {"weights": torch.full((2, 2), 0.5)},
                {"weights": torch.full((3, 2), float("inf"))}, {"uids": torch.zeros(0, dtype=torch.int64)}):
        with pytest.raises(ValueError):
            read_answer(spec, result({**body, **bad}), req)


class FakeDendriteRateLimitedOnce:
    """Only Dendrite.query (unit-test fake): the first ask is RATE_LIMITED (the validator is looking the
    caller's stake up), then `answer`."""

    def __init__(self, answer: Result):
        self.answer, self.asked = answer, 0

    async def query(self, endpoints, synapse, request, timeout):
        self.asked += 1
        if self.asked == 1:
            return [Result(endpoints[0], ReturnCode.RATE_LIMITED, 0.0, "stake being looked up on chain; retry")]
        return [self.answer]


def test_a_validator_that_rate_limits_the_first_ask_is_asked_again(case, monkeypatch):
    import asyncio

    from neurons.validator import api_client

    spec, req, mixture = case
    ep = Endpoint("5Fake", "127.0.0.2", 1)
    body = {**wire(spec.answer(mixture)), "uids": torch.tensor([0, 1]), "weights": torch.full((3, 2), 0.5)}
    good = Result(ep, ReturnCode.SUCCESS, 0.01, tensors=body)
    monkeypatch.setattr(api_client, "RETRY_S", 0.0)
    fake = FakeDendriteRateLimitedOnce(good)
    got_ep, answer, _ = asyncio.run(api_client.ask_validators(spec, fake, [ep], req, timeout=1.0))
    assert fake.asked == 2 and got_ep == ep and answer.uids == [0, 1]
