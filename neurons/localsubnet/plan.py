"""Who takes part in a local subnet: roles, dev keys, models and stakes."""
from __future__ import annotations

from dataclasses import dataclass

from chain.types import RAO_PER_TAO


@dataclass(frozen=True)
class NeuronPlan:
    role: str            # "validator" | "miner"
    name: str            # short label, also the dev coldkey uri //opensubnet/<name> (DEV ONLY keys)
    model: str = ""      # miner: reference model name of the subnet
    seed: int = 0        # miner: seed of the reference model (two miners of one model differ by seed)
    stake_tao: int = 0   # validator stake added by its coldkey

    @property
    def coldkey_uri(self) -> str:
        return f"//opensubnet/{self.name}"

    @property
    def stake_rao(self) -> int:
        return self.stake_tao * RAO_PER_TAO


def default_plan(models: list[str], n_validators: int = 2) -> list[NeuronPlan]:
    """Validators with unequal stake first, then one miner per model ("name" or "name:seed", in order)."""
    stakes = [1000, 600, 300][:n_validators]
    plan = [NeuronPlan("validator", f"validator{i + 1}", stake_tao=s) for i, s in enumerate(stakes)]
    for i, m in enumerate(models):
        model, _, seed = m.partition(":")
        plan.append(NeuronPlan("miner", f"miner{i + 1}-{model}", model=model, seed=int(seed or 0)))
    return plan
