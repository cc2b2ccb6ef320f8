"""Config: flags > env > file > defaults, one-line errors naming key and source, `show` output loads back."""
from __future__ import annotations

import argparse
import tomllib

import pytest
from hypothesis import given, settings, strategies as st
from pydantic import BaseModel, SecretStr

from neurons.config import ConfigError, NeuronConfig, add_config_flags, load_config, render_toml
from neurons.config.loader import build_config, parse_toml


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """No config file, env var or home directory of the machine running the tests leaks in."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    for key in [k for k in __import__("os").environ if k.upper().startswith("OPENSUBNET_")]:
        monkeypatch.delenv(key)


def parse(argv: list[str], sections=None) -> argparse.Namespace:
    return add_config_flags(argparse.ArgumentParser(), sections).parse_args(argv)


def test_defaults(tmp_path):
    cfg = load_config(parse([]))
    assert cfg.axon.port == 8091 and cfg.chain.netuid is None
    assert cfg.chain.url == f"dev:{tmp_path}/home/.opensubnet/devchain.sqlite"  # ~ expanded
    assert cfg.wallet.path == f"{tmp_path}/home/.opensubnet/wallets"
    assert cfg.origin("axon.port") == "default" and cfg.source_file is None


def test_precedence_flags_over_env_over_file(tmp_path, monkeypatch):
    (tmp_path / "opensubnet.toml").write_text("[axon]\nport = 1001\nhost = '10.0.0.1'\nmax_concurrency = 3\n"
                                              "[validator]\ntop_k = 7\n")
    monkeypatch.setenv("OPENSUBNET_AXON__PORT", "1002")
    monkeypatch.setenv("OPENSUBNET_AXON__HOST", "10.0.0.2")
    cfg = load_config(parse(["--axon.port", "1003", "--netuid", "5"]))
    assert (cfg.axon.port, cfg.axon.host, cfg.axon.max_concurrency, cfg.validator.top_k) == (1003, "10.0.0.2", 3, 7)
    assert cfg.chain.netuid == 5
    assert cfg.origin("axon.port") == "flag --axon.port"
    assert cfg.origin("chain.netuid") == "flag --netuid"
    assert cfg.origin("axon.host") == "env OPENSUBNET_AXON__HOST"
    assert cfg.origin("axon.max_concurrency") == "file opensubnet.toml"
    assert cfg.origin("axon.rate_limit_per_s") == "default"


def test_config_file_search_order(tmp_path, monkeypatch):
    home_cfg = tmp_path / "home" / ".opensubnet" / "config.toml"
    home_cfg.parent.mkdir(parents=True)
    home_cfg.write_text("[miner]\nmodel = 'from-home'\n")
    assert load_config(parse([])).miner.model == "from-home"
    (tmp_path / "opensubnet.toml").write_text("[miner]\nmodel = 'from-cwd'\n")
    assert load_config(parse([])).miner.model == "from-cwd"
    other = tmp_path / "other.toml"
    other.write_text("[miner]\nmodel = 'from-env'\n")
    monkeypatch.setenv("OPENSUBNET_CONFIG", str(other))
    assert load_config(parse([])).miner.model == "from-env"
    explicit = tmp_path / "explicit.toml"
    explicit.write_text("[miner]\nmodel = 'explicit'\n")
    cfg = load_config(parse(["--config", str(explicit)]))
    assert cfg.miner.model == "explicit" and cfg.source_file == str(explicit)
    with pytest.raises(ConfigError, match="missing.toml .*--config.* not found"):
        load_config(parse(["--config", str(tmp_path / "missing.toml")]))


@pytest.mark.parametrize("setup, argv, expected", [
    (lambda p, m: None, ["--axon.port", "99999"], "axon.port = '99999' (from flag --axon.port): Input should be less than or equal to 65535"),
    (lambda p, m: m.setenv("OPENSUBNET_DENDRITE__TIMEOUT_S", "soon"), [], "dendrite.timeout_s = 'soon' (from env OPENSUBNET_DENDRITE__TIMEOUT_S)"),
    (lambda p, m: (p / "opensubnet.toml").write_text("[validator]\nema_alpha = 2.0\n"), [], "validator.ema_alpha = 2.0 (from file opensubnet.toml)"),
    (lambda p, m: (p / "opensubnet.toml").write_text("[axon]\nprot = 1\n"), [], "axon.prot = 1 (from file opensubnet.toml): unknown key"),
    (lambda p, m: (p / "opensubnet.toml").write_text("[axxon]\nport = 1\n"), [], "unknown section 'axxon' (from file opensubnet.toml)"),
    (lambda p, m: (p / "opensubnet.toml").write_text("_cli_parse_args = true\n"), [], "unknown section '_cli_parse_args'"),
    (lambda p, m: (p / "opensubnet.toml").write_text("axon = 3\n"), [], "axon = 3 (from file opensubnet.toml)"),
    (lambda p, m: m.setenv("OPENSUBNET_LOGGING__LEVEL", "loud"), [], "logging.level = 'LOUD' (from env OPENSUBNET_LOGGING__LEVEL)"),
])
def test_invalid_values_name_key_and_source_in_one_line(tmp_path, monkeypatch, setup, argv, expected):
    setup(tmp_path, monkeypatch)
    with pytest.raises(ConfigError) as e:
        load_config(parse(argv))
    assert expected in str(e.value)
    assert "\n" not in str(e.value)


def test_bad_toml_names_the_file(tmp_path):
    (tmp_path / "opensubnet.toml").write_text("[axon\nport = 1\n")
    with pytest.raises(ConfigError, match="opensubnet.toml is not valid TOML"):
        load_config(parse([]))


@pytest.mark.parametrize("raw", [b"[axon]\nport = " + b"9" * 5000, b"a = [" * 5000, b"[axon]\nport = 0x" + b"f" * 5000,
                                 b"[axon]\nmax_request_bytes = 0x" + b"f" * 3600, b"a = [[1, 0x1" + b"0" * 16 + b"]]"])
def test_toml_beyond_python_limits_is_a_config_error(raw):
    """Regression (found by tests/fuzz): an integer past Python's 4300-digit limit made tomllib raise a
    bare ValueError, and a hex one made the error message itself fail; TOML integers are 64-bit."""
    with pytest.raises(ConfigError, match="fuzz.toml is not valid TOML"):
        parse_toml(raw, "fuzz.toml")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=512) | st.text(max_size=300).map(str.encode))
def test_garbage_config_files_only_raise_config_errors(raw):
    try:
        build_config([(parse_toml(raw, "fuzz.toml"), lambda s, k: "file fuzz.toml")])
    except ConfigError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from([*NeuronConfig.sections(), "_env_prefix", "x"]),
                       st.dictionaries(st.text(max_size=12), st.none() | st.booleans() | st.integers() | st.floats()
                                       | st.text(max_size=12) | st.lists(st.integers(), max_size=3), max_size=4)
                       | st.integers(), max_size=4))
def test_structured_garbage_only_raises_config_errors(data):
    try:
        build_config([(data, lambda s, k: "file fuzz.toml")])
    except ConfigError as e:
        assert "\n" not in str(e)


def test_case_and_paths(monkeypatch, tmp_path):
    monkeypatch.setenv("OPENSUBNET_LOGGING__LEVEL", "debug")
    cfg = load_config(parse(["--wallet.path", "~/w", "--chain", "dev:~/c.sqlite"]))
    assert cfg.logging.level == "DEBUG"
    assert cfg.wallet.path == f"{tmp_path}/home/w" and cfg.chain.url == f"dev:{tmp_path}/home/c.sqlite"


def test_flags_only_for_the_sections_asked():
    p = add_config_flags(argparse.ArgumentParser(), ["chain"])
    p.parse_args(["--netuid", "1", "--chain.url", "dev:"])
    with pytest.raises(SystemExit):
        p.parse_args(["--axon.port", "1"])
    text = add_config_flags(argparse.ArgumentParser(), ["wallet"]).format_help()
    assert "--wallet NAME, --wallet.name NAME" in text and "--password-file" in text


def test_show_output_loads_back_to_the_same_config(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENSUBNET_VALIDATOR__EXPLORATION", "0.25")
    cfg = load_config(parse(["--netuid", "3", "--axon.external_ip", "1.2.3.4"]))
    text = render_toml(cfg)
    assert "netuid = 3" in text and "# flag --netuid" in text and "# env OPENSUBNET_VALIDATOR__EXPLORATION" in text
    assert "# tls_cert = (not set)" in text
    (tmp_path / "opensubnet.toml").write_text(text)
    again = load_config(parse([]))
    assert again.model_dump() == cfg.model_dump()
    assert again.origin("chain.netuid") == "file opensubnet.toml"
    assert tomllib.loads(render_toml(cfg, origins=False)) == tomllib.loads(text)


def test_secrets_are_masked(monkeypatch):
    monkeypatch.setenv("OPENSUBNET_CHAIN__URL", "wss://alice:hunter2@node.example:443")
    text = render_toml(load_config(parse([])))
    assert "hunter2" not in text and 'url = "wss://***@node.example:443"' in text

    class ApiSection(BaseModel):
        token: SecretStr = SecretStr("tok-123")

    class WithSecret(NeuronConfig):
        api: ApiSection = ApiSection()

    assert "tok-123" not in render_toml(WithSecret()) and 'token = "********"' in render_toml(WithSecret())
    assert "tok-123" in render_toml(WithSecret(), mask=False)
