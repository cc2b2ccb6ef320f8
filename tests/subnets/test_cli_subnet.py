"""`neuron subnet list|show|new|check`, through the real CLI entry point."""
import json

import pytest

from neurons.cli.main import main
from subnets.check import check_subnet
from subnets.registry import load_file
from subnets.scaffold import BadName, names


def test_list_shows_the_builtins(capsys):
    assert main(["subnet", "list"]) == 0
    out = capsys.readouterr().out
    assert "text-embedding" in out and "TextNextToken" in out


def test_show_prints_shapes_and_hyperparameters(capsys):
    assert main(["subnet", "show", "text-next-token"]) == 0
    out = capsys.readouterr().out
    assert "context" in out and "int64" in out and "tempo=" in out and "ngram" in out
    assert main(["subnet", "show", "text-embedding", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["response"]["query_emb"]["shape"] == ["batch", 384]


def test_show_unknown_subnet_fails_with_a_hint(capsys):
    assert main(["subnet", "show", "nope"]) == 1
    err = capsys.readouterr().err
    assert "no subnet named 'nope'" in err and "neuron subnet list" in err


def test_new_scaffolds_a_subnet_that_imports_and_validates(tmp_path, capsys):
    assert main(["subnet", "new", "price-oracle", "--dir", str(tmp_path)]) == 0
    path = tmp_path / "price_oracle.py"
    assert f"wrote {path}" in capsys.readouterr().out
    cls = load_file(path)
    assert cls.__name__ == "PriceOracle" and cls.name == "price-oracle" and cls.synapse == "PriceOracle"
    assert len(check_subnet(cls())) >= 3
    assert main(["subnet", "check", str(path)]) == 0
    assert main(["subnet", "new", "price-oracle", "--dir", str(tmp_path)]) == 1  # no silent overwrite
    assert "already exists" in capsys.readouterr().err


@pytest.mark.parametrize("bad", ["Price", "9lives", "a--b", "trailing-", "has space", "x" * 60])
def test_new_rejects_bad_names(bad, tmp_path):
    with pytest.raises(BadName):
        names(bad)
    assert main(["subnet", "new", bad, "--dir", str(tmp_path)]) == 1
    assert not list(tmp_path.iterdir())
