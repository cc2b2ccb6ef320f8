"""`neuron subnet eval NAME --adversaries`: standard attackers beside the reference miners, through
the validator's own gate and scoring. A small labelled-regression subnet (written to a file, as a
subnet creator would) shows the tool catching a memorisable spec and passing a perturbed one."""
import textwrap

import pytest
import torch

from neurons.cli.main import main
from subnets.adversaries import PERMITTED_COPIER, Constant, LookupTable, Noise, response_shapes, row_key
from subnets.evaluate import evaluate_adversaries
from subnets.registry import get

SPEC = textwrap.dedent('''
    """A public dataset of labelled points: the label is the public rule W x plus a per-point
    offset that only the dataset knows. PERTURB = True moves every drawn point by a seeded step."""
    import random

    import torch

    from subnets.spec import Challenge, SubnetSpec, TensorSpec

    POOL = 300
    _g = torch.Generator().manual_seed(7)
    W = torch.randn(4, 2, generator=_g)
    POINTS = torch.randn(POOL, 4, generator=_g)
    OFFSETS = 0.5 * torch.randn(POOL, 2, generator=_g)


    class Honest:
        def __init__(self, noise):
            self.noise = noise

        def forward(self, request):
            x = request["x"]
            g = torch.Generator().manual_seed(int(x.abs().sum() * 1e3))
            return {"y": x @ W + self.noise * torch.randn(x.shape[0], 2, generator=g)}


    class Labelled(SubnetSpec):
        name = "labelled"
        synapse = "Labelled"
        request = {"x": TensorSpec(("batch", 4), "float32", low=-100, high=100)}
        response = {"y": TensorSpec(("batch", 2), "float32", low=-1e3, high=1e3)}
        feature_dim = 4
        batched_weights = True
        PERTURB = False

        def challenge(self, seed, batch_size):
            idx = torch.tensor(random.Random(seed).sample(range(POOL), batch_size))
            x = POINTS[idx]
            if self.PERTURB:
                x = x + 0.3 * torch.randn(x.shape, generator=torch.Generator().manual_seed(seed))
            return Challenge(seed, {"x": x.contiguous()}, x @ W + OFFSETS[idx])

        def features(self, ch):
            return ch.request["x"]

        def combine(self, outputs, weights):
            return torch.einsum("...bk,kbd->...bd", weights, torch.stack([o["y"] for o in outputs]))

        def loss(self, mixture, ch):
            return ((mixture - ch.target) ** 2).mean(-1)

        def null_loss(self, ch):
            return (ch.target ** 2).mean(-1)

        def oracle(self, ch):
            return {"y": ch.target.clone()}

        def metric(self, mixture, ch):
            return {}

        def miners(self):
            return {"good": lambda seed: Honest(0.05), "fair": lambda seed: Honest(0.3)}
''')


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny tensors: one intra-op thread is faster than two on a busy machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def spec_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("subnet") / "labelled.py"
    path.write_text(SPEC)
    return path


def run(spec_file, perturb: bool):
    spec = get(str(spec_file))
    type(spec).PERTURB = perturb
    return evaluate_adversaries(spec, steps=40, batch_size=32, public_batches=40)


def weight(rows, name):
    return next(r["weight"] for r in rows if r["miner"] == name)


def test_a_memorisable_spec_pays_the_lookup_table_and_the_tool_says_so(spec_file):
    rows, failures = run(spec_file, perturb=False)
    assert weight(rows, "lookup-table") > weight(rows, "fair")
    assert any(f.startswith("lookup-table") for f in failures), failures


def test_a_perturbed_spec_pays_no_attacker(spec_file):
    rows, failures = run(spec_file, perturb=True)
    assert failures == [], (failures, rows)
    for name in ("lookup-table", "noise", "constant", "copier (refused)"):
        assert weight(rows, name) <= 0.005, (name, rows)
    assert weight(rows, PERMITTED_COPIER) <= weight(rows, "good") + 0.02  # at most an equal share
    assert weight(rows, "good") + weight(rows, "fair") + weight(rows, PERMITTED_COPIER) > 0.99


def test_the_cli_prints_every_attackers_weight_and_fails_a_memorisable_spec(spec_file, capsys):
    type(get(str(spec_file))).PERTURB = False  # a fresh module: memorisable
    code = main(["subnet", "eval", str(spec_file), "--adversaries", "--steps", "20", "--batch-size", "32"])
    out = capsys.readouterr().out
    for name in ("good", "fair", "lookup-table", "copier (refused)", PERMITTED_COPIER, "noise", "constant"):
        assert name in out
    assert code == 1 and "FAIL  lookup-table" in out


def test_generic_attackers_answer_within_the_response_spec(spec_file):
    spec = get(str(spec_file))
    ch = spec.challenge(5, 8)
    assert response_shapes(spec, ch.request) == {"y": (8, 2)}
    for attacker in (Noise(spec), Constant(spec), LookupTable(spec, public_batches=2)):
        spec.validate_response(attacker.forward(ch.request), ch.request)
    table = LookupTable(spec, public_batches=40)
    assert torch.allclose(table.forward(ch.request)["y"], ch.target)  # memorised: exact
    assert row_key(ch.request, 0) != row_key(ch.request, 1)


def test_row_keys_ignore_the_batchs_padding():
    a = {"ids": torch.tensor([[5, 6, 0, 0], [7, 8, 9, 1]])}
    b = {"ids": torch.tensor([[5, 6, 0]])}
    assert row_key(a, 0, {"ids": 0}) == row_key(b, 0, {"ids": 0}) and row_key(a, 0) != row_key(b, 0)
