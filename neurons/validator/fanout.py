"""Send each routed miner only its own rows of a request, and put the answers back into the batch.

Miners that receive the same request (every row, or a spec whose rows are not separable) share
one dendrite query; the others get one query each, all concurrently under the same deadline.
"""
from __future__ import annotations

import asyncio
from typing import Callable, Mapping, Sequence

import torch

from neurons.dendrite import Dendrite, Endpoint, Result
from neurons.validator.contract import Output, place_rows, select_rows
from neurons.validator.routing import Route


def sub_requests(spec, request: Mapping[str, torch.Tensor], route: Route) -> list[Mapping[str, torch.Tensor]]:
    """[k] the request each routed uid receives: its rows only, or `request` itself (the same object)
    for miners sent every row and specs whose rows are not separable."""
    batch = route.rows.shape[0]
    return [request if int(route.rows[:, j].sum()) == batch else select_rows(spec, request, route.indices(j))
            for j in range(len(route))]


async def query_routed(dendrite: Dendrite, endpoints: Sequence[Endpoint], synapse: str,
                       requests: Sequence[Mapping[str, torch.Tensor]], *, timeout: float) -> list[Result]:
    """One result per endpoint, in order; endpoints sharing a request object share one query."""
    groups: dict[int, list[int]] = {}
    for j, req in enumerate(requests):
        groups.setdefault(id(req), []).append(j)
    answers = await asyncio.gather(*(dendrite.query([endpoints[j] for j in js], synapse, requests[js[0]],
                                                    timeout=timeout) for js in groups.values()))
    out: list[Result | None] = [None] * len(endpoints)
    for js, results in zip(groups.values(), answers):
        for j, r in zip(js, results):
            out[j] = r
    return out  # type: ignore[return-value]


def place_outputs(spec, outputs: Sequence[Output | None], route: Route) -> list[dict | None]:
    """Each valid sub-batch answer placed into the full batch (None stays None)."""
    batch = route.rows.shape[0]
    return [None if o is None else place_rows(spec, o, route.indices(j), batch) for j, o in enumerate(outputs)]


async def ask(dendrite: Dendrite, spec, endpoints: Sequence[Endpoint], request: Mapping[str, torch.Tensor],
              route: Route, check: Callable[[Result, Mapping], Output | None], *, timeout: float,
              ) -> tuple[list[Result], list[dict | None]]:
    """Query the routed miners with their rows: (results [k], checked answers placed in the batch [k])."""
    requests = sub_requests(spec, request, route)
    results = await query_routed(dendrite, endpoints, spec.synapse, requests, timeout=timeout)
    return results, place_outputs(spec, [check(r, q) for r, q in zip(results, requests)], route)
