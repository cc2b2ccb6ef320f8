"""Find the raw chain spec the local chain runs (never part of the repo), or download a known one.

Lookup order: an explicit path (`--chain-spec`), $OPENSUBNET_CHAIN_SPEC, then the cache
(~/.cache/opensubnet/chainspecs/subtensor-spec148.json). A download needs a URL (`--spec-url` or
$OPENSUBNET_CHAIN_SPEC_URL, e.g. a mirror you trust) and is kept only if its sha256 matches the
known spec's.
"""
from __future__ import annotations

import hashlib
import logging
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from chain.errors import ChainError
from chain.localnet.paths import chainspec_dir

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KnownSpec:
    name: str
    filename: str
    sha256: str
    description: str


SPEC148 = KnownSpec("spec148", "subtensor-spec148.json",
                    "8875ef179fc7f86617331a9c46addaad9885e69036c87b59904e73035c4ed008",
                    "subtensor runtime spec 148 (May 2024, pre-dTAO, real Yuma epoch)")


class ChainSpecMissing(ChainError):
    pass


def how_to_get() -> str:
    target = chainspec_dir() / SPEC148.filename
    return (f"put the raw chain spec of {SPEC148.description} at {target} (or pass --chain-spec PATH, "
            f"or set OPENSUBNET_CHAIN_SPEC), or download it: "
            f"`neuron localnet fetch --spec-url URL` (sha256 {SPEC148.sha256[:16]}…)")


def find_spec(explicit: str | os.PathLike | None = None) -> Path:
    """The chain spec to run; ChainSpecMissing (saying how to get one) when there is none."""
    for candidate, origin in ((explicit, "--chain-spec"), (os.environ.get("OPENSUBNET_CHAIN_SPEC"), "OPENSUBNET_CHAIN_SPEC")):
        if candidate:
            path = Path(candidate).expanduser()
            if not path.is_file():
                raise ChainSpecMissing(f"chain spec {path} (from {origin}) does not exist", hint=how_to_get())
            return path
    cached = chainspec_dir() / SPEC148.filename
    if cached.is_file():
        return cached
    raise ChainSpecMissing(f"no subtensor chain spec at {cached}", hint=how_to_get())


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def download_spec(url: str | None = None, *, spec: KnownSpec = SPEC148, dest_dir: Path | None = None,
                  timeout: float = 30.0) -> Path:
    """Download `url` into the cache, keep it only if its sha256 is the known spec's; returns the path."""
    url = url or os.environ.get("OPENSUBNET_CHAIN_SPEC_URL")
    if not url:
        raise ChainSpecMissing("no download URL for the chain spec",
                               hint="pass --spec-url URL (or set OPENSUBNET_CHAIN_SPEC_URL) pointing at a copy of the "
                                    f"{spec.description} raw spec (sha256 {spec.sha256})")
    dest_dir = dest_dir or chainspec_dir()
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest, part = dest_dir / spec.filename, dest_dir / (spec.filename + ".part")
    h = hashlib.sha256()
    log.info("downloading %s from %s", spec.filename, url)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r, open(part, "wb") as f:
            total = int(r.headers.get("Content-Length") or 0)
            done = 0
            for block in iter(lambda: r.read(1 << 20), b""):
                f.write(block)
                h.update(block)
                done += len(block)
                log.info("  %.1f MB%s", done / 1e6, f" of {total / 1e6:.1f} MB" if total else "")
    except (urllib.error.URLError, OSError) as exc:
        part.unlink(missing_ok=True)
        raise ChainSpecMissing(f"could not download the chain spec from {url}: {exc}",
                               hint="this machine looks offline or the URL is wrong; " + how_to_get()) from exc
    if h.hexdigest() != spec.sha256:
        part.unlink(missing_ok=True)
        raise ChainSpecMissing(f"downloaded file has sha256 {h.hexdigest()}, expected {spec.sha256}",
                               hint="the URL does not serve the known spec; nothing was kept")
    os.replace(part, dest)
    log.info("chain spec saved to %s", dest)
    return dest


def genesis_issuance(spec_json: dict) -> int:
    """Balances.TotalIssuance at genesis, read from the raw spec (u128 little-endian)."""
    key = "0xc2261276cc9d1f8598ea4b6a74b15c2f57c875e4cff74148e4628f264b974c80"  # twox128(Balances)+twox128(TotalIssuance)
    raw = spec_json.get("genesis", {}).get("raw", {}).get("top", {})
    if not raw:
        raise ChainError("the chain spec is not a raw spec (no genesis.raw.top)",
                         hint="use a raw chain spec (`build-spec --raw`); " + how_to_get())
    value = raw.get(key, "0x" + "00" * 16)
    return int.from_bytes(bytes.fromhex(value[2:]), "little")
