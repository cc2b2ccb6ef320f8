"""Finding subnets by name: entry points, built-ins, 'module:Class' and .py files; the one resolver and its contract."""
import ast
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from neurons import plugins
from subnets import registry
from subnets.template import Template


def test_builtins_are_found_without_installation():
    known = registry.available()
    assert known["text-embedding"] == "subnets.text_embedding:TextEmbedding"
    assert registry.get("text-next-token").name == "text-next-token"
    assert registry.get("text-embedding").synapse == "TextEmbedding"


def test_plugins_register_through_entry_points(monkeypatch):
    plugin = EntryPoint("vector-sum", "subnets.template:Template", registry.GROUP)
    monkeypatch.setattr(plugins, "entry_points", lambda group: [plugin] if group == registry.GROUP else [])
    assert registry.available()["vector-sum"] == "subnets.template:Template"
    assert isinstance(registry.get("vector-sum"), Template)


def test_explicit_references_and_files(tmp_path):
    assert isinstance(registry.get("subnets.template:Template"), Template)
    assert registry.get(registry.__file__.replace("registry.py", "template.py")).name == "template"
    empty = tmp_path / "empty.py"
    empty.write_text("x = 1\n")
    with pytest.raises(registry.BadSubnet, match="exactly one"):
        registry.get(str(empty))
    broken = tmp_path / "broken.py"
    broken.write_text("import no_such_module_here\n")
    with pytest.raises(registry.BadSubnet, match="cannot import"):
        registry.get(str(broken))


@pytest.mark.parametrize("ref, error", [
    ("no-such-subnet", registry.SubnetNotFound),
    ("subnets.template:Nope", registry.BadSubnet),
    ("subnets.template:DIM", registry.BadSubnet),  # exists but is not a SubnetSpec
    ("no_such_module:X", registry.BadSubnet),
])
def test_bad_names_raise_typed_errors(ref, error):
    with pytest.raises(error):
        registry.get(ref)


def test_one_resolver_serves_neurons_and_subnets(tmp_path):
    """neurons.plugins.load_subnet (what miner, validator, query and demo use) takes the same references."""
    path = tmp_path / "my_subnet.py"
    path.write_text(Path(registry.__file__).with_name("template.py").read_text())
    for ref in ("text-embedding", "subnets.template:Template", str(path)):
        assert plugins.load_subnet(ref).name == registry.get(ref).name
    with pytest.raises(plugins.SubnetNotFound, match="no subnet named 'nope'") as e:
        plugins.load_subnet("nope")
    assert "neuron subnet list" in e.value.hint
    with pytest.raises(plugins.BadSubnet, match="not found"):
        plugins.load_subnet(str(tmp_path / "missing.py"))


def test_the_contract_is_checked_when_a_spec_loads(tmp_path):
    with pytest.raises(plugins.ContractError, match="missing attribute name; .*missing attribute feature_dim"):
        plugins.load_subnet("subnets.spec:SubnetSpec")  # the base class alone declares, sets nothing
    bad = tmp_path / "bad_subnet.py"
    bad.write_text("from subnets.template import Template\n\n"
                   "class Half:\n    synapse = 'Half'\n    def features(self, ch): ...\n")
    with pytest.raises(plugins.ContractError) as e:
        plugins.load_file(bad)
    assert "class Half is not a complete subnet spec" in str(e.value) and "missing method combine()" in str(e.value)
    with pytest.raises(plugins.ContractError, match="timeout is 0, expected > 0"):
        plugins.load_subnet(f"{__name__}:Slow")


class Slow(Template):
    timeout = 0


def test_every_spec_member_neurons_read_is_in_the_contract():
    """SubnetSpec fields that neurons rely on are declared in contract.py, and SubnetSpec provides them all."""
    from neurons.validator.contract import contract_members
    attrs, methods = contract_members()
    assert {"timeout", "default_batch_size", "feature_dim", "synapse", "name"} <= attrs.keys()
    assert {"validate_request", "validate_response", "features", "combine", "loss", "miners"} <= set(methods)
    assert plugins.contract_problems(Template()) == []


def test_neurons_never_import_subnets_by_name():
    """Dependency direction: subnets -> neurons. neurons reach a spec only through neurons.plugins."""
    root = Path(plugins.__file__).parent
    offenders = []
    for f in root.rglob("*.py"):
        for node in ast.walk(ast.parse(f.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                    [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            offenders += [f"{f.relative_to(root)}: {n}" for n in names if n == "subnets" or n.startswith("subnets.")]
    assert offenders == []
