"""Dynamic batching on a miner: concurrent requests of one synapse merged into one model forward.

    batcher = Batcher(model.forward, device=pick_device("auto"), max_rows=128, max_wait_s=0.005)
    out = await batcher.submit(call.tensors, call.deadline)   # this request's rows of the merged answer

How a batch forms:
- Requests are merged only with others whose tensors have the same names, dtypes and shapes past
  dim 0 (their "signature"). Their tensors are concatenated along dim 0 (the rows, e.g. the texts
  of a request), run as one forward, and every output is split back along dim 0.
- Tensors named in `pad` (a subnet's `batch_pad`, e.g. token ids right-padded with PAD_ID that
  the model masks) may differ in dim 1: they are right-padded to the longest with that value.
- A batch closes when it holds `max_rows` rows, when its oldest request has waited `max_wait_s`, or
  when the nearest deadline in it leaves no more time than its forward would take (the rows times
  a moving average of the seconds per row). A batch takes no more requests than can be answered
  before the nearest deadline among them; a request of more than `max_rows` rows runs alone.
- One forward runs at a time, in one worker thread, so a GPU runs one batch while the next gathers.
- A request whose caller gave up (the axon cancels it at its deadline) is dropped before its
  batch runs.
- When a merged forward raises, or gives an output whose dim 0 is not the batch's rows, each of its
  requests is run alone, so a bad request fails only itself.

Whether to batch (`batching_enabled`): merging pays on a GPU, where a forward of 80 rows costs
little more than one of 8. On a CPU it does not pay for small models (MiniLM: 64 requests took
1.06-1.2 s in two one-thread slots, 1.43-1.54 s as one two-thread batch), so "auto" batches only
when the model runs on cuda. Models and inputs move to the chosen device (`place`, `run_model`);
answers come back on the CPU.
"""
from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Mapping

import torch

log = logging.getLogger("opensubnet.batching")

Tensors = Mapping[str, torch.Tensor]
_EWMA = 0.2  # weight of the newest forward in the forward-time estimate
_MARGIN_S = 0.02  # closing a batch for a deadline: the forward-time estimate plus this (signing, sending)
_ROW_S0 = 0.001  # seconds per row assumed before the first forward is timed


def pick_device(device: str = "auto") -> torch.device:
    """"auto": cuda when present, else cpu; or a torch device name ("cpu", "cuda", "cuda:1")."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        d = torch.device(device)
    except RuntimeError:
        raise ValueError(f"miner.device {device!r} is not a torch device; use auto, cpu, cuda or cuda:N") from None
    if d.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} asked for, but torch sees no CUDA device; use device = \"auto\" or \"cpu\"")
    return d


def batching_enabled(mode: str, device: torch.device) -> bool:
    """"on", "off", or "auto" (on only where it was measured to pay: a model on cuda)."""
    if mode not in ("auto", "on", "off"):
        raise ValueError(f"batching must be auto, on or off, not {mode!r}")
    return mode == "on" or (mode == "auto" and device.type == "cuda")


def place(model: Any, device: torch.device) -> Any:
    """Move a model to `device`: the object itself if it has .to(), else its torch attributes
    (a subnet's reference miners keep an nn.Module or tensors as attributes)."""
    if device.type == "cpu":
        return model
    if isinstance(model, torch.nn.Module):
        return model.to(device)
    for name, value in vars(model).items():
        if isinstance(value, (torch.nn.Module, torch.Tensor)):
            setattr(model, name, value.to(device))
    return model


def run_model(forward: Callable, tensors: Tensors, device: torch.device) -> dict[str, torch.Tensor]:
    """forward(tensors) on `device`, without autograd; the outputs come back on the CPU."""
    with torch.no_grad():
        out = forward({k: v.to(device, non_blocking=True) for k, v in tensors.items()})
    if not isinstance(out, Mapping):
        raise TypeError(f"the model returned {type(out).__name__}; a batched model returns a dict of tensors")
    return {k: v.detach().to("cpu") for k, v in out.items()}


def signature(tensors: Tensors, pad: Mapping[str, float] = {}) -> tuple[tuple, int] | None:
    """(what must match to merge, rows) of a request, or None when it cannot be merged
    (no tensors, a 0-d tensor, or tensors that disagree on dim 0). Dim 1 of a tensor in `pad` may differ."""
    if not tensors:
        return None
    rows, key = None, []
    for name in sorted(tensors):
        t = tensors[name]
        if not isinstance(t, torch.Tensor) or t.dim() == 0 or (rows is not None and t.shape[0] != rows):
            return None
        rows = t.shape[0]
        padded = name in pad and t.dim() >= 2
        key.append((name, t.dtype, (("*",) + tuple(t.shape[2:])) if padded else tuple(t.shape[1:])))
    return tuple(key), rows


def merge(requests: list[Tensors], pad: Mapping[str, float] = {}) -> dict[str, torch.Tensor]:
    """Concatenate requests with one signature along dim 0: each tensor [sum of rows, ...]; tensors in
    `pad` are first right-padded along dim 1 to the longest with their pad value."""
    out = {}
    for k in requests[0]:
        parts = [r[k] for r in requests]
        if k in pad and parts[0].dim() >= 2:
            width = max(p.shape[1] for p in parts)
            parts = [p if p.shape[1] == width else torch.nn.functional.pad(
                p, (0, 0) * (p.dim() - 2) + (0, width - p.shape[1]), value=pad[k]) for p in parts]
        out[k] = torch.cat(parts)
    return out


def split(out: Tensors, rows: list[int]) -> list[dict[str, torch.Tensor]]:
    """The inverse of merge for a forward's outputs: views of each request's rows."""
    total = sum(rows)
    for k, v in out.items():
        if not isinstance(v, torch.Tensor) or v.dim() == 0 or v.shape[0] != total:
            raise ValueError(f"output {k!r} has shape {tuple(getattr(v, 'shape', ()))}, not {total} rows "
                             f"(one per input row): this model cannot be batched")
    parts = {k: v.split(rows) for k, v in out.items()}
    return [{k: p[i] for k, p in parts.items()} for i in range(len(rows))]


class _Item:
    __slots__ = ("tensors", "rows", "deadline", "arrived", "future")

    def __init__(self, tensors: Tensors, rows: int, deadline: float, arrived: float, future: asyncio.Future):
        self.tensors, self.rows, self.deadline, self.arrived, self.future = tensors, rows, deadline, arrived, future


class Batcher:
    """Merges concurrent requests into forwards of at most `max_rows` rows (see the module doc)."""

    def __init__(self, forward: Callable, *, device: torch.device | str = "cpu", max_rows: int = 128,
                 max_wait_s: float = 0.005, pad: Mapping[str, float] | None = None):
        if max_rows < 1 or max_wait_s < 0:
            raise ValueError("max_rows must be >= 1 and max_wait_s >= 0")
        self._forward, self.device, self.pad = forward, torch.device(device), dict(pad or {})
        self.max_rows, self.max_wait_s = max_rows, max_wait_s
        self._groups: dict[Any, list[_Item]] = {}  # signature -> waiting requests; dict order = oldest first
        self._wake: asyncio.Event | None = None
        self._runner: asyncio.Task | None = None
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="batcher")
        self.row_s = _ROW_S0  # moving average of a forward's wall time per row
        self.forwards = self.requests = 0  # counters: requests / forwards = the average merge

    async def submit(self, tensors: Tensors, deadline: float) -> dict[str, torch.Tensor]:
        """This request's answer (its rows of the merged forward's outputs, on the CPU).

        `deadline` is loop.time() by which the caller needs it; the model's own exception is raised
        here when it fails on this request alone."""
        loop = asyncio.get_running_loop()
        if self._runner is None or self._runner.done():
            self._wake = asyncio.Event()
            self._runner = loop.create_task(self._run())
        sig = signature(tensors, self.pad)
        future = loop.create_future()
        item = _Item(tensors, sig[1] if sig else 0, deadline, loop.time(), future)
        self._groups.setdefault(sig[0] if sig else ("alone", id(item)), []).append(item)
        self._wake.set()
        return await future  # a cancelled caller cancels the future: its item is dropped, not run

    def _due(self, key: Any, items: list[_Item]) -> float:
        """When this group's batch must close (-inf: now)."""
        if (isinstance(key, tuple) and key[:1] == ("alone",)) or sum(i.rows for i in items) >= self.max_rows:
            return float("-inf")
        rows = sum(i.rows for i in items)
        return min(items[0].arrived + self.max_wait_s, min(i.deadline for i in items) - rows * self.row_s - _MARGIN_S)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._drop_abandoned()
            if not self._groups:
                self._wake.clear()
                await self._wake.wait()
                continue
            due, key = min((self._due(k, v), i, k) for i, (k, v) in enumerate(self._groups.items()))[::2]
            wait = due - loop.time()
            if wait > 0:
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), wait)
                except TimeoutError:
                    pass
                continue
            batch = self._take(key, self._groups[key], loop.time())
            t0 = loop.time()
            try:
                results = await loop.run_in_executor(self._worker, self._compute, [i.tensors for i in batch],
                                                     [i.rows for i in batch])
            except BaseException:
                for item in batch:  # closed (or the worker is gone): nobody will answer these
                    item.future.cancel()
                raise
            per_row = (loop.time() - t0) / max(1, sum(i.rows for i in batch))
            self.row_s = per_row if self.forwards == 0 else (1 - _EWMA) * self.row_s + _EWMA * per_row
            self.forwards += 1
            self.requests += len(batch)
            for item, res in zip(batch, results):
                if item.future.done():
                    continue  # its caller gave up while the batch ran
                if isinstance(res, BaseException):
                    item.future.set_exception(res)
                else:
                    item.future.set_result(res)

    def _take(self, key: Any, items: list[_Item], now: float) -> list[_Item]:
        """The oldest requests of one group (at least one): up to max_rows rows, and no more than the
        forward can answer before the nearest deadline among them."""
        n, rows, deadline = 0, 0, float("inf")
        while n < len(items):
            r, d = rows + items[n].rows, min(deadline, items[n].deadline)
            if n and (r > self.max_rows or now + r * self.row_s + _MARGIN_S > d):
                break
            n, rows, deadline = n + 1, r, d
        batch, rest = items[:n], items[n:]
        if rest:
            self._groups[key] = rest
        else:
            del self._groups[key]
        return batch

    def _drop_abandoned(self) -> None:
        for key in list(self._groups):
            live = [i for i in self._groups[key] if not i.future.done()]
            if live:
                self._groups[key] = live
            else:
                del self._groups[key]

    def _compute(self, requests: list[Tensors], rows: list[int]) -> list:
        """In the worker thread: one merged forward, or (one request, or a merged forward that failed)
        one forward per request. Returns each request's outputs or exception."""
        if len(requests) > 1:
            try:
                return split(run_model(self._forward, merge(requests, self.pad), self.device), rows)
            except Exception as e:  # noqa: BLE001 - find the bad request: run each alone
                log.info("merged forward of %d requests failed (%s: %s); running them one by one",
                         len(requests), type(e).__name__, e)
        out: list = []
        for r in requests:
            try:
                out.append(run_model(self._forward, r, self.device))
            except Exception as e:  # noqa: BLE001 - this request's own failure
                out.append(e)
        return out

    async def close(self) -> None:
        """Stop batching: waiting requests are cancelled, a running forward is left to finish."""
        if self._runner is not None:
            self._runner.cancel()
            await asyncio.gather(self._runner, return_exceptions=True)
        for items in self._groups.values():
            for i in items:
                i.future.cancel()
        self._groups.clear()
        self._worker.shutdown(wait=False, cancel_futures=True)


def batchable(spec) -> bool:
    """True when a subnet declares its rows independent and every request and response tensor has the
    rows ("batch") as dim 0."""
    return bool(spec.rows_independent) and all(
        ts.shape[:1] == ("batch",) for ts in (*spec.request.values(), *spec.response.values()))
