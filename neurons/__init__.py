"""opensubnet neurons: axon, dendrite, wallet, config, miner/validator loops and the `neuron` CLI."""
