"""The spec-148 and spec-293 epochs in the runtime's own number formats, for exact u16 agreement.

spec293 (run_epoch.rs `epoch`, July 2025) differs from spec148 in: stake below the threshold zeroed,
permits to the top-k of non-zero stake, the owner's self-weight kept, bonds of columns registered
since the last epoch dropped (instead of spec148's per-cell outdated mask), weights for bonds
interpolated by bonds_penalty, and Yuma3 (bonds as u16 proportions, EMA without column
normalisation, dividends weighted by active stake, stored unscaled). Liquid alpha is not covered.

Arithmetic follows substrate-fixed: values are integers scaled by 2**32 (I32F32) or 2**64 (I64F64);
sums are exact, a product is floor(a*b / 2**32), a quotient is floor(a * 2**32 / b) (non-negative
operands), narrowing I64F64 -> I32F32 drops bits. Matrices are numpy object arrays of Python ints
over the rows that can be non-zero ([r, n]); meant for chain-sized subnets (n <= a few thousand).
Inputs must be what the chain stores: stake in rao (integers), weights and bonds as u16 values.
"""
from __future__ import annotations

import numpy as np

from .params import U16_MAX, YumaParams
from .stake import inactive_mask, top_k
from .weights import outdated

ONE = 1 << 32


def _mul(a, b):
    return (a * b) >> 32


def _div(a, b):
    return (a << 32) // b


def _normalize(x: np.ndarray) -> np.ndarray:
    """inplace_normalize: x / sum(x), unchanged when the sum is 0.  x: object ints."""
    s = int(x.sum())
    return x if s == 0 else np.array([_div(int(v), s) for v in x], dtype=object)


def _col_normalize(m: np.ndarray) -> np.ndarray:
    s = m.sum(axis=0)
    safe = np.where(s == 0, 1, s)
    return np.where(s == 0, m, (m << 32) // safe)


def _u16(raw) -> np.ndarray:
    """fixed_proportion_to_u16: floor(x * 65535) on the I32F32 raw value."""
    return np.array([min(int(v) * U16_MAX >> 32, U16_MAX) for v in raw], dtype=np.uint16)


def _integers(name: str, a: np.ndarray, hi: int | None) -> np.ndarray:
    if np.any(a != np.floor(a)) or (hi is not None and a.size and a.max() > hi):
        what = "u16 values stored on chain (integers 0..65535)" if hi else "rao (integers)"
        raise ValueError(f"{name}: fixed_point=True needs the {what}")
    return a.astype(np.int64).astype(object)


def _median(stake: np.ndarray, w: np.ndarray, kappa: int) -> np.ndarray:
    """weighted_median_col_sparse on exact sums: min{x : stake(w <= x) > sum - kappa} per column.

    Raw I32F32 proportions are <= 2**32, so values and stake sums fit int64 here.
    """
    n = w.shape[1]
    pos = np.array([v > 0 for v in stake], dtype=bool)
    if not pos.any():
        return np.zeros(n, dtype=object)
    s = _normalize(stake[pos]).astype(np.int64)
    minority = int(s.sum()) - kappa
    v = w[pos].astype(np.int64).T  # [n, a]
    order = np.argsort(v, axis=1)
    hit = np.cumsum(s[order], axis=1) > minority
    first = hit.argmax(axis=1)
    cols = np.arange(n)
    vals = np.where(hit[cols, first], v[cols, order[cols, first]], v.max(axis=1))
    return vals.astype(object)


def run_epoch_fixed(x, p: YumaParams):
    """Raw I32F32 outputs (object int arrays), the u16 values stored, and the rows used (see epoch.run_epoch)."""
    n = x.n
    stake_rao = _integers("stake", x.stake, None)
    w_u16 = _integers("weights", x.weights, U16_MAX)
    v293 = p.variant == "spec293"
    if v293 and p.stake_threshold > 0:
        stake_rao = np.where(stake_rao < p.stake_threshold, 0, stake_rao).astype(object)
    total = int(stake_rao.sum())
    stake64 = [(int(s) << 64) // total if total else 0 for s in stake_rao]  # I64F64 normalised
    stake = np.array([s >> 32 for s in stake64], dtype=object)  # narrowed to I32F32
    stake_i64 = stake.astype(np.int64)
    new_permit = top_k(stake_i64, p.max_allowed_validators, nonzero=v293)
    old_permit = new_permit.copy() if x.validator_permit is None else x.validator_permit.copy()
    inactive = inactive_mask(n, x.last_update, x.current_block, x.activity_cutoff)
    act = _normalize(np.where(old_permit & ~inactive, stake, 0).astype(object))

    b_in = None
    if x.bonds is not None:  # raw u16 values, or u16/65535 as in EpochResult.bonds: column
        # normalisation makes a uniform scale exactly irrelevant
        raw = np.all(x.bonds == np.floor(x.bonds))
        b_in = _integers("bonds", x.bonds if raw else np.round(x.bonds * U16_MAX, 6), U16_MAX)
    has_bonds = np.array([any(r) for r in b_in], dtype=bool) if b_in is not None else np.zeros(n, bool)
    rows = np.flatnonzero(old_permit | has_bonds)
    out_rows = outdated(rows, x.last_update, x.block_at_registration)
    w = w_u16[rows] << 32
    w[~old_permit[rows]] = 0
    diag = np.arange(len(rows))
    keep = (rows == x.owner_uid) if v293 and x.owner_uid is not None else np.zeros(len(rows), bool)
    w[diag[~keep], rows[~keep]] = 0
    if out_rows is not None:
        w[out_rows] = 0
    rs = w.sum(axis=1)
    w = np.where((rs > 0)[:, None], (w << 32) // np.where(rs > 0, rs, 1)[:, None], w)

    s = act[rows]
    kappa = (round(p.kappa * U16_MAX) << 32) // U16_MAX
    preranks = (s[:, None] * w >> 32).sum(axis=0) if len(rows) else np.zeros(n, dtype=object)
    consensus = _median(s, w, kappa)
    clipped = np.minimum(w, consensus[None, :])
    vtrust = np.zeros(n, dtype=object)
    vtrust[rows] = clipped.sum(axis=1)
    ranks = (s[:, None] * clipped >> 32).sum(axis=0) if len(rows) else np.zeros(n, dtype=object)
    trust = np.array([_div(int(r), int(q)) if q else 0 for r, q in zip(ranks, preranks)], dtype=object)
    incentive = _normalize(ranks)

    b = (b_in[rows] << 32) if b_in is not None else np.zeros((len(rows), n), dtype=object)
    if v293 and x.last_tempo is not None and x.block_at_registration is not None:
        b[:, x.last_tempo <= x.block_at_registration] = 0  # columns registered since the last epoch
    elif out_rows is not None and not v293:
        b[out_rows] = 0
    wb = clipped
    if v293:  # interpolate_sparse(W, clipped W, bonds_penalty); ratio 0 and 1 return W and clipped W as they are
        pen = (round(p.bonds_penalty * U16_MAX) << 32) // U16_MAX
        wb = w if pen == 0 else clipped if pen == ONE else w + (pen * (clipped - w) >> 32)
    bma64 = (int(p.bonds_moving_average) << 64) // 1_000_000
    alpha = ONE - (bma64 >> 32)
    if v293 and p.yuma3:
        b = b // U16_MAX  # get_bonds_sparse_fixed_proportion: (u16 as I32F32) / 65535
        ema = (alpha * wb >> 32) + ((ONE - alpha) * b >> 32)  # mat_ema_sparse, kept unnormalised
        ema_norm = _col_normalize(ema)
        div_rows = (ema_norm * incentive[None, :] >> 32).sum(axis=1) * s >> 32
    else:
        ema_norm = None
        b = _col_normalize(b)
        delta = _col_normalize(wb * s[:, None] >> 32)
        ema = _col_normalize((alpha * delta >> 32) + ((ONE - alpha) * b >> 32))
        div_rows = (ema * incentive[None, :] >> 32).sum(axis=1)
    dividends = np.zeros(n, dtype=object)
    dividends[rows] = div_rows
    dividends = _normalize(dividends)

    combined = incentive + dividends
    esum = int(combined.sum())
    if esum:
        server = np.array([_div(int(v), esum) for v in incentive], dtype=object)
        validator = np.array([_div(int(v), esum) for v in dividends], dtype=object)
        combined = _normalize(combined)
    else:
        server, validator = incentive, (act if any(act) else stake)
        combined = validator
    cmax = int(max(combined)) if n else 0
    pruning = [((int(e) * U16_MAX << 32) // cmax + (1 << 31)) >> 32 if cmax else 0 for e in combined]

    if v293 and p.yuma3:
        stored = ema  # Yuma3 stores the proportions themselves
    else:
        colmax = ema.max(axis=0) if len(rows) else np.zeros(n, dtype=object)
        stored = np.where(colmax > 0, (ema << 32) // np.where(colmax > 0, colmax, 1), ema)
    bonds_u16 = np.array([[min(int(v) * U16_MAX >> 32, U16_MAX) for v in r] for r in stored],
                         dtype=np.int64).reshape(len(rows), n)  # [r, n], also when no row holds a permit
    return dict(
        rows=rows, stake=stake, new_permit=new_permit, old_permit=old_permit, active_stake=act,
        consensus=consensus, incentive=incentive, dividends=dividends, validator_trust=vtrust, ranks=ranks,
        trust=trust, server=server, validator=validator, combined=combined,
        ema=ema if ema_norm is None else ema_norm,
        stored_bonds=bonds_u16 / U16_MAX,
        u16={"Consensus": _u16(consensus), "Incentive": _u16(incentive), "Dividends": _u16(dividends),
             "ValidatorTrust": _u16(vtrust), "StakeWeight": _u16(stake), "Rank": _u16(incentive),
             "Trust": _u16(trust), "PruningScores": np.array(pruning, dtype=np.uint16),
             "ValidatorPermit": new_permit.copy()},
    )
