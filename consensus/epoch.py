"""run_epoch: one Yuma epoch as a pure function over the uid space.

Only rows that hold a (previous) permit or stored bonds can be non-zero in the weight and bond
matrices, so every step works on those r rows: temporaries are [r, n], never [n, n].
"""
from __future__ import annotations

import numpy as np

from . import bonds as bondsmod
from .emission import emission_shares, max_upscale
from .fixed import run_epoch_fixed
from .inputs import EpochInput, prepare
from .median import weighted_median_cols
from .params import YumaParams
from .result import EpochResult
from .stake import active_stake, inactive_mask, new_permits, normalized_stake
from .vecmath import normalize
from .weights import masked_weights, outdated


def run_epoch(inp: EpochInput, params: YumaParams | None = None) -> EpochResult:
    p = params or YumaParams()
    x = prepare(inp)
    if p.fixed_point:
        return _fixed_result(x, p)
    n, variant = x.n, p.variant
    owner = x.owner_uid if variant != "spec148" else None  # spec148 has no owner exceptions
    exempt = owner if variant == "current" else None  # spec293 keeps only the owner's self-weight

    threshold = p.stake_threshold if variant != "spec148" else 0.0
    stake = normalized_stake(x.stake, threshold, exempt)
    new_permit = new_permits(stake, p.max_allowed_validators, exempt, variant)
    old_permit = new_permit.copy() if x.validator_permit is None else x.validator_permit.copy()
    if exempt is not None:
        old_permit[exempt] = True
    inactive = inactive_mask(n, x.last_update, x.current_block, x.activity_cutoff)
    act = active_stake(stake, old_permit, inactive)

    has_bonds = x.bonds.max(axis=1) > 0 if x.bonds is not None else np.zeros(n, dtype=bool)
    rows = np.flatnonzero(old_permit | has_bonds)  # (r,) the only rows that can be non-zero
    s = act[rows]
    out_rows = outdated(rows, x.last_update, x.block_at_registration)  # [r, n] or None
    w = masked_weights(x.weights, rows, old_permit, owner, out_rows,
                       x.commit_blocks, x.block_at_registration, variant)  # [r, n]

    consensus = weighted_median_cols(s, w, p.kappa)  # (n,)
    clipped = np.minimum(w, consensus[None, :])  # [r, n]
    validator_trust = np.zeros(n)
    validator_trust[rows] = clipped.sum(axis=1)
    ranks = s @ clipped
    incentive = normalize(ranks)

    pen = p.effective_bonds_penalty
    wb = clipped if pen == 1.0 else w + pen * (clipped - w)
    b_prev = bondsmod.masked_bonds(x.bonds, rows, n, x.last_tempo, x.block_at_registration, out_rows, variant)
    ema, stored, div_rows = bondsmod.epoch_bonds(wb, b_prev, consensus, incentive, s, p)
    dividends = np.zeros(n)
    dividends[rows] = div_rows
    bonds_out = np.zeros((n, n))
    bondsmod.write_back(bonds_out, rows, stored, x.bonds, new_permit, old_permit)
    ema_full = np.zeros((n, n))
    ema_full[rows] = ema

    server, validator, combined = emission_shares(incentive, dividends, act, stake)
    trust = pruning = None
    if variant in ("spec148", "spec293"):
        preranks = s @ w
        trust = np.divide(ranks, preranks, out=np.zeros(n), where=preranks > 0)
        pruning = max_upscale(combined)
    return EpochResult(
        consensus=consensus, incentive=incentive, dividends=dividends,
        validator_trust=validator_trust, ranks=ranks, active_stake=act,
        stake_normalized=stake, new_validator_permit=new_permit, bonds=bonds_out,
        bonds_ema_normalized=ema_full, server_share=server, validator_share=validator,
        combined_share=combined, trust=trust, pruning_scores=pruning,
    )


def _fixed_result(x, p: YumaParams) -> EpochResult:
    """Wrap the exact I32F32 epoch (consensus/fixed.py) as an EpochResult; floats are raw / 2**32."""
    f = run_epoch_fixed(x, p)

    def fl(a):
        return np.array([int(v) for v in np.ravel(a)], dtype=np.float64).reshape(np.shape(a)) / 2.0**32

    n, rows = x.n, f["rows"]
    bonds_out = np.zeros((n, n))
    bondsmod.write_back(bonds_out, rows, f["stored_bonds"], x.bonds, f["new_permit"], f["old_permit"])
    ema_full = np.zeros((n, n))
    ema_full[rows] = fl(f["ema"])
    combined = fl(f["combined"])
    return EpochResult(
        consensus=fl(f["consensus"]), incentive=fl(f["incentive"]), dividends=fl(f["dividends"]),
        validator_trust=fl(f["validator_trust"]), ranks=fl(f["ranks"]), active_stake=fl(f["active_stake"]),
        stake_normalized=fl(f["stake"]), new_validator_permit=f["new_permit"], bonds=bonds_out,
        bonds_ema_normalized=ema_full, server_share=fl(f["server"]), validator_share=fl(f["validator"]),
        combined_share=combined, trust=fl(f["trust"]), pruning_scores=max_upscale(combined), u16=f["u16"],
    )
