"""Template subnet: miners predict the sum of a vector. Copy it with `neuron subnet new NAME`."""
import torch

from subnets.spec import Challenge, SubnetSpec, TensorSpec

DIM = 8


class Exact:  # a reference miner: factory(seed) -> object with forward(request) -> response
    def __init__(self, seed: int = 0):
        pass

    def forward(self, request):
        return {"y": request["x"].sum(1, keepdim=True)}


class Noisy(Exact):
    def __init__(self, seed: int = 0):
        self.gen = torch.Generator().manual_seed(seed)

    def forward(self, request):
        y = super().forward(request)["y"]
        return {"y": y + torch.randn(y.shape, generator=self.gen)}


class Template(SubnetSpec):
    name = "template"
    synapse = "VectorSum"
    version = 1
    description = "Predict the sum of a random vector; scored by squared error."
    request = {"x": TensorSpec(("batch", DIM), "float32", low=-1.0, high=1.0)}
    response = {"y": TensorSpec(("batch", 1), "float32", low=-1e6, high=1e6)}
    max_dims = {"batch": 1024}
    feature_dim = DIM
    hyperparameters = {"tempo": 100, "min_allowed_weights": 1, "commit_reveal": True}

    def challenge(self, seed: int, batch_size: int) -> Challenge:
        gen = torch.Generator().manual_seed(seed)
        x = torch.rand(batch_size, DIM, generator=gen) * 2 - 1
        return Challenge(seed, {"x": x}, target=x.sum(1))

    def features(self, challenge: Challenge) -> torch.Tensor:
        return challenge.request["x"]  # [batch, DIM]: what the gate routes on

    def combine(self, outputs, weights):
        ys = torch.cat([o["y"] for o in outputs], 1)  # [batch, k]
        return (weights * ys).sum(1)  # [batch]

    def loss(self, mixture, challenge):
        return (mixture - challenge.target) ** 2  # [batch]

    def null_loss(self, challenge):
        return challenge.target ** 2  # [batch]: no miner answered, the mixture is 0 (lets one miner earn)

    def metric(self, mixture, challenge):
        return {"mae": float((mixture - challenge.target).abs().mean())}

    def miners(self):
        return {"exact": Exact, "noisy": Noisy}
