"""The local chain's pieces: config generation, chain-spec lookup and sha256-checked download,
the Chopsticks install check, and `neuron localnet start|status|stop` on the real runtime."""
from __future__ import annotations

import argparse
import hashlib
import http.server
import json
import threading
from pathlib import Path

import pytest
from substrateinterface import Keypair

from chain.localnet import chopsticks, process
from chain.localnet.config import DEV_FREE, ROOT_HOTKEY_URI, build_config
from chain.localnet.spec import ChainSpecMissing, KnownSpec, download_spec, find_spec, genesis_issuance
from chain.localnet.paths import chainspec_dir

ISSUANCE_KEY = "0xc2261276cc9d1f8598ea4b6a74b15c2f57c875e4cff74148e4628f264b974c80"


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENSUBNET_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("OPENSUBNET_CHAIN_SPEC", raising=False)
    monkeypatch.delenv("OPENSUBNET_CHAIN_SPEC_URL", raising=False)
    return tmp_path / "cache"


def fake_raw_spec(path: Path, issuance: int) -> Path:
    path.write_text(json.dumps({"name": "FakeSpec", "genesis": {"raw": {"top": {
        ISSUANCE_KEY: "0x" + issuance.to_bytes(16, "little").hex()}}}}))
    return path


def test_config_funds_dev_accounts_and_raises_total_issuance(tmp_path):
    spec = fake_raw_spec(tmp_path / "spec.json", 403_002_000_000_000)
    cfg = build_config(spec, 9999)
    accounts = cfg["import-storage"]["System"]["Account"]
    funded = {a[0][0] for a in accounts}
    assert Keypair.create_from_uri("//Bob").ss58_address in funded
    assert Keypair.create_from_uri(ROOT_HOTKEY_URI).ss58_address in funded
    assert int(cfg["import-storage"]["Balances"]["TotalIssuance"]) == 403_002_000_000_000 + DEV_FREE * len(accounts)
    assert cfg["import-storage"]["Sudo"]["Key"] == Keypair.create_from_uri("//Alice").ss58_address
    assert (cfg["host"], cfg["port"], cfg["build-block-mode"]) == ("127.0.0.1", 9999, "Instant")
    assert genesis_issuance({"genesis": {"raw": {"top": {"0x00": "0x"}}}}) == 0


def test_find_spec_order_and_missing_message(cache, tmp_path, monkeypatch):
    with pytest.raises(ChainSpecMissing) as e:
        find_spec()
    assert str(chainspec_dir() / "subtensor-spec148.json") in str(e.value) and "--chain-spec" in e.value.hint
    assert "neuron localnet fetch" in e.value.hint
    with pytest.raises(ChainSpecMissing, match="does not exist"):
        find_spec(tmp_path / "nope.json")
    env_spec = fake_raw_spec(tmp_path / "env.json", 1)
    monkeypatch.setenv("OPENSUBNET_CHAIN_SPEC", str(env_spec))
    assert find_spec() == env_spec
    explicit = fake_raw_spec(tmp_path / "explicit.json", 2)
    assert find_spec(explicit) == explicit


@pytest.fixture
def http_server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(root), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_download_keeps_only_the_known_sha256(cache, http_server):
    root, base = http_server
    body = b'{"genesis": {"raw": {"top": {}}}}'
    (root / "spec.json").write_bytes(body)
    known = KnownSpec("t", "t.json", hashlib.sha256(body).hexdigest(), "test spec")
    path = download_spec(f"{base}/spec.json", spec=known)
    assert path == chainspec_dir() / "t.json" and path.read_bytes() == body

    other = KnownSpec("u", "u.json", "0" * 64, "test spec")
    with pytest.raises(ChainSpecMissing, match="sha256"):
        download_spec(f"{base}/spec.json", spec=other)
    assert not (chainspec_dir() / "u.json").exists() and not (chainspec_dir() / "u.json.part").exists()


def test_download_offline_or_without_url_says_what_to_do(cache):
    port = process.free_port()                       # nothing listens there: like being offline
    with pytest.raises(ChainSpecMissing) as e:
        download_spec(f"http://127.0.0.1:{port}/spec.json", timeout=2)
    assert "offline" in e.value.hint and "--chain-spec" in e.value.hint
    with pytest.raises(ChainSpecMissing, match="no download URL"):
        download_spec(None)


def test_missing_chopsticks_is_explained(cache):
    with pytest.raises(chopsticks.ChopsticksMissing) as e:
        chopsticks.ensure(allow_install=False)
    assert "npm install @acala-network/chopsticks" in e.value.hint


def _real_cache_or_skip(real_cache: Path):
    spec = real_cache / "chainspecs" / "subtensor-spec148.json"
    if not spec.is_file():
        pytest.skip(f"needs the chain spec at {spec}: `neuron localnet fetch --spec-url URL` or copy it there")
    if not chopsticks.installed(real_cache / "chopsticks"):
        pytest.skip(f"needs Chopsticks in {real_cache / 'chopsticks'}: run `neuron localnet start` once (npm install)")


@pytest.mark.localnet
def test_cli_start_status_attach_stop(cache, capsys):
    real_cache = Path.home() / ".cache" / "opensubnet"
    _real_cache_or_skip(real_cache)
    cache.mkdir(parents=True)
    for name in ("chopsticks", "chainspecs"):          # the real install and spec, private state dir
        (cache / name).symlink_to(real_cache / name)

    from chain import connect
    from neurons.cli import localnet as cli
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    port = process.free_port()
    try:
        assert cli.run(parser.parse_args(["start", "--port", str(port), "--no-install"])) == 0
        assert f"ws://127.0.0.1:{port}" in capsys.readouterr().out
        pid = int((cache / "localnet" / "pid").read_text())
        assert cli.run(parser.parse_args(["start", "--no-install"])) == 0   # already running: same process
        assert int((cache / "localnet" / "pid").read_text()) == pid
        assert cli.run(parser.parse_args(["status"])) == 0 and f"pid {pid}" in capsys.readouterr().out
        with connect("local") as c:                     # attaches to the running chain
            assert c.url.endswith(f":{port}") and c.block() > 0 and c.yuma_variant == "spec148"
    finally:
        assert cli.run(parser.parse_args(["stop"])) == 0
    assert "stopped" in capsys.readouterr().out
    assert not process._alive(pid) and not (cache / "localnet" / "pid").exists()
    assert cli.run(parser.parse_args(["status"])) == 1 and "not running" in capsys.readouterr().out


@pytest.mark.parametrize("runtime, spec_file", [(148, "subtensor-spec148.json"), (293, "subtensor-spec293-plain.json")])
def test_local_chain_fixture_skip_reason_says_what_is_missing(cache, tmp_path, runtime, spec_file):
    import localnet_fixture
    session = localnet_fixture._start(config=None, tmp_root=tmp_path, runtime=runtime)   # empty cache: nothing there
    assert session.url is None
    assert "local runtime tests need" in session.skip_reason
    assert spec_file in session.skip_reason and "neuron localnet fetch" in session.skip_reason
