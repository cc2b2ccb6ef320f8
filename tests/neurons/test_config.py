"""Config: flags > env > file > defaults, one-line errors naming key and source, `show` output loads back."""
from __future__ import annotations

import argparse
import json
import os
import tomllib

import pytest
from hypothesis import given, settings, strategies as st
from pydantic import BaseModel, SecretStr

from neurons.config import ConfigError, NeuronConfig, add_config_flags, fill_from_subnet, load_config, render_toml
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
    (tmp_path / "opensubnet.toml").write_text("[axon]\nport = 1001\nhost = '10.0.0.1'\nconcurrency = 3\n"
                                              "[gate]\ntop_k = 7\n")
    monkeypatch.setenv("OPENSUBNET_AXON__PORT", "1002")
    monkeypatch.setenv("OPENSUBNET_AXON__HOST", "10.0.0.2")
    cfg = load_config(parse(["--axon.port", "1003", "--netuid", "5"]))
    assert (cfg.axon.port, cfg.axon.host, cfg.axon.concurrency, cfg.gate.top_k) == (1003, "10.0.0.2", 3, 7)
    assert cfg.chain.netuid == 5
    assert cfg.origin("axon.port") == "flag --axon.port"
    assert cfg.origin("chain.netuid") == "flag --netuid"
    assert cfg.origin("axon.host") == "env OPENSUBNET_AXON__HOST"
    assert cfg.origin("axon.concurrency") == "file opensubnet.toml"
    assert cfg.origin("axon.rate_per_s") == "default"


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
    (lambda p, m: (p / "opensubnet.toml").write_text("[scoring]\nema_alpha = 2.0\n"), [], "scoring.ema_alpha = 2.0 (from file opensubnet.toml)"),
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
    monkeypatch.setenv("OPENSUBNET_GATE__EXPLORE", "3")
    cfg = load_config(parse(["--netuid", "3", "--axon.external_ip", "1.2.3.4"]))
    text = render_toml(cfg)
    assert "netuid = 3" in text and "# flag --netuid" in text and "# env OPENSUBNET_GATE__EXPLORE" in text
    assert "# tls_cert_file = (not set)" in text
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


# (key, flag value, value it parses to): settings an operator tunes, one of each kind
OTHER_METHOD = next(m for m in ("loo", "shapley") if m != NeuronConfig().scoring.method)
OPERATOR_SETTINGS = [
    ("scoring.method", OTHER_METHOD, OTHER_METHOD), ("scoring.permutations", "16", 16), ("gate.hidden", "32", 32),
    ("gate.lr", "0.003", 0.003), ("gate.top_k", "6", 6), ("gate.explore", "0", 0), ("gate.noise_std", "0.5", 0.5),
    ("gate.balance_weight", "0.1", 0.1), ("axon.min_stake", "2.5", 2.5),
    ("axon.max_response_bytes", "4096", 4096), ("axon.max_inflight_per_caller", "3", 3),
    ("axon.max_inflight_per_stream", "5", 5), ("axon.replay_window_s", "60", 60.0), ("axon.burst", "7", 7.0),
    ("validator.batch_size", "4", 4), ("dendrite.timeout_s", "2.5", 2.5),
]


@pytest.mark.parametrize("key, flag_value, value", OPERATOR_SETTINGS)
def test_operator_settings_are_reachable_by_flag_env_and_file(tmp_path, monkeypatch, key, flag_value, value):
    sec, name = key.split(".")
    get = lambda cfg: getattr(getattr(cfg, sec), name)
    assert get(NeuronConfig()) != value  # each case changes the default
    argv = [f"--{key}"] + ([] if flag_value is None else [flag_value])
    assert get(load_config(parse(argv))) == value
    monkeypatch.setenv(f"OPENSUBNET_{sec}__{name}".upper(), "true" if flag_value is None else flag_value)
    assert get(cfg := load_config(parse([]))) == value and cfg.origin(key).startswith("env ")
    monkeypatch.delenv(f"OPENSUBNET_{sec}__{name}".upper())
    (tmp_path / "opensubnet.toml").write_text(f"[{sec}]\n{name} = {json.dumps(value)}\n")
    assert get(cfg := load_config(parse([]))) == value and cfg.origin(key) == "file opensubnet.toml"


def test_help_shows_every_default_including_computed_ones():
    text = add_config_flags(argparse.ArgumentParser()).format_help()
    assert "PydanticUndefined" not in text
    assert f"(default: {os.cpu_count() or 1})" in " ".join(text.split())  # axon.concurrency: a default_factory
    with pytest.raises(SystemExit):  # a closed set of values is checked by the parser
        add_config_flags(argparse.ArgumentParser(), ["scoring"]).parse_args(["--scoring.method", "best"])


def test_the_axon_and_the_moe_take_their_sections_as_they_are():
    """One default per setting: the axon and the MoE read the config tree's sections, no copies."""
    from neurons.axon import Axon
    from neurons.validator.moe import MoE
    from neurons.wallet import DevWallet

    cfg = NeuronConfig(axon={"rate_per_s": 3.0}, gate={"hidden": 8, "lr": 0.5}, scoring={"method": "shapley"})
    axon = Axon(DevWallet("//opensubnet/cfg").hotkey(), caller_info=lambda hk: None, config=cfg.axon)
    assert axon.config is cfg.axon and Axon(DevWallet("//opensubnet/cfg").hotkey(), caller_info=dict().get).config \
        == NeuronConfig().axon
    moe = MoE(4, ["a", "b"], cfg)
    assert moe.trainer.config is cfg.gate and moe.trainer.gate.config()["hidden"] == 8
    assert moe.trainer.optimizer.param_groups[0]["lr"] == 0.5 and moe.config.scoring.method == "shapley"


def test_subnet_gives_the_defaults_the_config_leaves_unset():
    class Spec:
        name, timeout, default_batch_size = "toy", 3.5, 5

    cfg = fill_from_subnet(load_config(parse([])), Spec())
    assert (cfg.dendrite.timeout_s, cfg.validator.batch_size) == (3.5, 5)
    assert cfg.origin("dendrite.timeout_s") == "subnet toy" and "# subnet toy" in render_toml(cfg)
    cfg = fill_from_subnet(load_config(parse(["--dendrite.timeout_s", "9", "--validator.batch_size", "2"])), Spec())
    assert (cfg.dendrite.timeout_s, cfg.validator.batch_size) == (9.0, 2)
    assert cfg.origin("validator.batch_size") == "flag --validator.batch_size"


def test_env_is_read_only_by_load_config(monkeypatch):
    """NeuronConfig(...) in code is the defaults plus its arguments: no hidden env input without a source."""
    monkeypatch.setenv("OPENSUBNET_AXON__PORT", "1234")
    assert NeuronConfig().axon.port == 8091 and load_config(parse([])).axon.port == 1234


def test_docs_describe_every_section():
    """docs/config.md's table of sections stays in step with the schema."""
    from pathlib import Path
    docs = (Path(__file__).parents[2] / "docs" / "config.md").read_text()
    rows = {line.split("`")[1] for line in docs.splitlines() if line.startswith("| `")}
    assert rows >= set(NeuronConfig.sections()), f"add a row to docs/config.md for {set(NeuronConfig.sections()) - rows}"
