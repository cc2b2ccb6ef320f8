"""The validator's mixture-of-experts core: gate, routing, online training, scoring, EMA, state.

One step: features -> `MoE.select` (noisy top-k + exploration) -> query miners ->
`MoE.learn` (mix through the gate, train it, score each miner's marginal contribution,
update the score EMA) -> `MoE.weights()` for the chain; `StateStore` persists it all atomically.
"""
