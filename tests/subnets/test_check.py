"""check_subnet catches the mistakes a subnet author is likely to make."""
import pytest
import torch

from subnets.check import SubnetCheckFailed, check_subnet
from subnets.spec import Challenge
from subnets.template import Template


class FakeUnseeded(Template):
    def challenge(self, seed, batch_size):
        x = torch.rand(batch_size, 8) * 2 - 1  # global RNG: not replayable from the seed
        return Challenge(seed, {"x": x}, x.sum(1))


class FakeSeedIgnored(Template):
    def challenge(self, seed, batch_size):
        return super().challenge(0, batch_size)


class FakeDetached(Template):
    def combine(self, outputs, weights):
        return super().combine(outputs, weights.detach())


class FakeWideMiner(Template):
    def miners(self):
        return {"wide": lambda seed: type("W", (), {"forward": lambda self, r: {"y": torch.zeros(len(r["x"]), 2)}})()}


@pytest.mark.parametrize("spec, message", [
    (FakeUnseeded(), "not reproducible"),
    (FakeSeedIgnored(), "ignores its seed"),
    (FakeDetached(), "differentiable"),
    (FakeWideMiner(), "'wide' gives an invalid response"),
])
def test_broken_specs_fail_with_the_reason(spec, message):
    with pytest.raises(SubnetCheckFailed, match=message):
        check_subnet(spec)
