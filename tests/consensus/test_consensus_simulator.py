"""Simulator scenarios and the `neuron simulate` command."""
import csv

import numpy as np
import pytest

from consensus.scenario import ScenarioError, builtin_names, load, parse
from consensus.simulator import simulate


def mean_div_per_stake(run, name):
    u = run.names.index(name)
    return run.dividends[:, u].mean() / run.stake[:, u].mean()


def test_builtins_present_and_loadable():
    names = builtin_names()
    for required in ("weight_copying", "collusion_40", "new_miner_best", "big_validator_late", "kappa_moves_first"):
        assert required in names
    for name in names:
        assert load(name).epochs > 0


def test_copier_earns_less_than_every_honest_validator_under_yuma3():
    run = simulate(load("weight_copying"), "yuma3")
    copier = mean_div_per_stake(run, "copier")
    honest = [mean_div_per_stake(run, n) for n in ("honest-A", "honest-B", "honest-C")]
    assert copier < min(honest) - 0.05
    # the copier really copies: its epoch-e weights are consensus(e-1), so it earns dividends after epoch 0
    assert run.dividends[0, run.names.index("copier")] == 0.0 and run.dividends[5:, run.names.index("copier")].min() > 0


def test_minority_cartel_cannot_capture_incentive():
    for version in ("yuma", "yuma3", "yuma3-liquid"):
        run = simulate(load("collusion_40"), version)
        cartel_miner = run.incentive[:, run.names.index("M-cartel")]
        assert cartel_miner.max() < 0.05  # clipped to the honest 2%
        assert mean_div_per_stake(run, "cartel-1") < 0.1 < mean_div_per_stake(run, "honest-A")


def test_new_miner_gets_nothing_before_joining_and_most_after():
    run = simulate(load("new_miner_best"), "yuma")
    inc = run.incentive[:, run.names.index("M-new")]
    assert not inc[:10].any() and inc[20:].min() > 0.5


def test_consensus_moves_with_kappa():
    run = simulate(load("big_validator_late"), "yuma")
    b = run.names.index("B")
    assert run.consensus[10:20, b].max() == 0.0 and run.consensus[20:, b].min() == 1.0


def test_yaml_and_toml_give_the_same_scenario(tmp_path):
    toml = tmp_path / "s.toml"
    toml.write_text('epochs = 3\nminers = ["A"]\n[[validators]]\nname = "v"\nstake = 1\nweights = { A = 1 }\n')
    yml = tmp_path / "s.yaml"
    yml.write_text("epochs: 3\nminers: [A]\nvalidators:\n  - {name: v, stake: 1, weights: {A: 1}}\n")
    a, b = simulate(load(str(toml)), "yuma"), simulate(load(str(yml)), "yuma")
    assert np.array_equal(a.incentive, b.incentive) and a.incentive[:, 1].tolist() == [1.0, 1.0, 1.0]


@pytest.mark.parametrize("data, where", [
    ({"miners": ["A"], "validators": [{"name": "v", "stake": -1}]}, "stake"),
    ({"miners": ["A"], "validators": [{"name": "v", "stake": 1, "weights": {"B": 1}}]}, "unknown miner"),
    ({"miners": [], "validators": [{"name": "v", "stake": 1}]}, "miners"),
    ({"miners": ["A"], "validators": [{"name": "v", "stake": 1}], "changes": [{"epoch": 1, "validators": "x"}]},
     "unknown validator"),
    ({"miners": ["A"], "validators": [{"name": "v", "stake": 1}], "params": {"kappa": 2}}, "kappa"),
    ({"miners": ["A"], "validators": [{"name": "v", "stake": 1}], "typo": 1}, "unknown key"),
])
def test_bad_scenarios_say_what_is_wrong(data, where):
    with pytest.raises(ScenarioError, match=where):
        parse(data, "test.toml")


def test_cli_writes_csv_and_png(tmp_path, capsys):
    from neurons.cli.main import main

    assert main(["simulate", "weight_copying", "--epochs", "6", "--versions", "yuma,yuma3", "--out", str(tmp_path)]) == 0
    rows = list(csv.DictReader(open(tmp_path / "weight_copying.csv")))
    assert len(rows) == 2 * 6 * 8 and {r["version"] for r in rows} == {"yuma", "yuma3"}
    png = (tmp_path / "weight_copying.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    out = capsys.readouterr().out
    assert "copier" in out and "yuma3" in out


def test_cli_errors_are_one_line(tmp_path, capsys):
    from neurons.cli.main import main

    assert main(["simulate", "no_such_scenario"]) == 2
    assert "built-ins" in capsys.readouterr().err
    assert main(["simulate", "weight_copying", "--versions", "yuma9", "--out", str(tmp_path)]) == 2
    assert main(["simulate", "--list"]) == 0
    assert "collusion_40" in capsys.readouterr().out


def test_doc_examples_parse_and_run(tmp_path):
    import re
    from pathlib import Path

    doc = (Path(__file__).parents[2] / "docs" / "simulator.md").read_text()
    blocks = re.findall(r"```(toml|yaml)\n(.*?)```", doc, re.S)
    assert len(blocks) == 2
    results = []
    for lang, body in blocks:
        path = tmp_path / f"example.{lang}"
        path.write_text(body)
        results.append(simulate(load(str(path)), "yuma3"))
    assert np.array_equal(results[0].dividends, results[1].dividends)
