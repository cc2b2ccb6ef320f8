"""The one-command local subnet: a chain, validators and miners as separate processes, epochs, results."""
from neurons.localsubnet.plan import NeuronPlan, default_plan
from neurons.localsubnet.runner import LocalSubnet

__all__ = ["NeuronPlan", "default_plan", "LocalSubnet"]
