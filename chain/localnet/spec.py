"""Find the chain spec the local chain runs (never part of the repo), or download a known one.

Known runtimes (KNOWN, each with its sha256 and the repository, commit and path it comes from):
spec 148 (May 2024, raw) and spec 293 (July 2025, dTAO, a plain spec whose raw genesis is built on
first use, chain/localnet/genesis.py). Lookup order: an explicit path (`--chain-spec`),
$OPENSUBNET_CHAIN_SPEC, then the cache (~/.cache/opensubnet/chainspecs/<known filename>). A
download needs a URL (`--spec-url` or $OPENSUBNET_CHAIN_SPEC_URL, e.g. a mirror you trust) and is
kept only if its sha256 matches the known spec's.
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
    repo: str = ""        # GitHub owner/name the file comes from
    commit: str = ""
    path: str = ""        # path of the file in that commit
    plain: bool = False   # a plain spec (genesis.runtimeGenesis): the raw genesis is built from it
    runtime: int = 0      # spec_version

    @property
    def source(self) -> str:
        return f"github.com/{self.repo} commit {self.commit[:8]}, file {self.path}" if self.repo else "unknown"


SPEC148 = KnownSpec("spec148", "subtensor-spec148.json",
                    "8875ef179fc7f86617331a9c46addaad9885e69036c87b59904e73035c4ed008",
                    "subtensor runtime spec 148 (May 2024, pre-dTAO, real Yuma epoch)",
                    repo="Tensora-org/subtensor_local", commit="d38ee5109d9f0975e54213c098589ae864f9fc90",
                    path="specs/local.json", runtime=148)
SPEC293 = KnownSpec("spec293", "subtensor-spec293-plain.json",
                    "c321edb119707219b5f3fe602ad2f3180cd9e4492dbceee16e46b54a1facba2d",
                    "subtensor runtime spec 293 (July 2025, dTAO, commit-reveal, real Yuma epoch; plain spec)",
                    repo="opentensor/subtensor", commit="f59e608b2128586215ea396156a1d04b14724888",
                    path="aura-dev.json", plain=True, runtime=293)
#: runtime spec_version -> the spec file `neuron localnet start --runtime N` runs
KNOWN: dict[int, KnownSpec] = {148: SPEC148, 293: SPEC293}
DEFAULT_RUNTIME = 148


class ChainSpecMissing(ChainError):
    pass


def known(runtime: int) -> KnownSpec:
    if runtime not in KNOWN:
        raise ChainError(f"no known chain spec for runtime {runtime}",
                         hint=f"use --runtime {' or '.join(str(r) for r in KNOWN)}, or --chain-spec PATH")
    return KNOWN[runtime]


def how_to_get(spec: KnownSpec = SPEC148) -> str:
    target = chainspec_dir() / spec.filename
    return (f"put the chain spec of {spec.description} at {target}: it is {spec.path} at commit {spec.commit} "
            f"of github.com/{spec.repo} (e.g. `git show {spec.commit[:8]}:{spec.path} > {target}` in a clone), "
            f"sha256 {spec.sha256}; or pass --chain-spec PATH, or set OPENSUBNET_CHAIN_SPEC, or download it: "
            f"`neuron localnet fetch --runtime {spec.runtime} --spec-url URL`")


def find_spec(explicit: str | os.PathLike | None = None, runtime: int = DEFAULT_RUNTIME) -> Path:
    """The chain spec to run (plain or raw); ChainSpecMissing (saying how to get one) when there is none."""
    spec = known(runtime)
    for candidate, origin in ((explicit, "--chain-spec"), (os.environ.get("OPENSUBNET_CHAIN_SPEC"), "OPENSUBNET_CHAIN_SPEC")):
        if candidate:
            path = Path(candidate).expanduser()
            if not path.is_file():
                raise ChainSpecMissing(f"chain spec {path} (from {origin}) does not exist", hint=how_to_get(spec))
            return path
    cached = chainspec_dir() / spec.filename
    if cached.is_file():
        return cached
    raise ChainSpecMissing(f"no subtensor chain spec at {cached}", hint=how_to_get(spec))


def is_plain(spec_json: dict) -> bool:
    """A plain spec carries the runtime's genesis config (runtimeGenesis), not the raw storage."""
    genesis = spec_json.get("genesis", {})
    return "raw" not in genesis and ("runtimeGenesis" in genesis or "runtime" in genesis)


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
                         hint="build the raw genesis first (chain.localnet.genesis.raw_spec); " + how_to_get())
    value = raw.get(key, "0x" + "00" * 16)
    return int.from_bytes(bytes.fromhex(value[2:]), "little")
