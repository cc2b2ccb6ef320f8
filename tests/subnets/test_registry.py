"""Finding subnets by name: entry points, built-ins, 'module:Class' and .py files."""
from importlib.metadata import EntryPoint

import pytest

from subnets import registry
from subnets.template import Template


def test_builtins_are_found_without_installation():
    known = registry.available()
    assert known["text-embedding"] == "subnets.text_embedding:TextEmbedding"
    assert registry.get("text-next-token").name == "text-next-token"
    assert registry.get("text-embedding").synapse == "TextEmbedding"


def test_plugins_register_through_entry_points(monkeypatch):
    plugin = EntryPoint("vector-sum", "subnets.template:Template", registry.GROUP)
    monkeypatch.setattr(registry, "entry_points", lambda group: [plugin] if group == registry.GROUP else [])
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
    ("no-such-subnet", registry.UnknownSubnet),
    ("subnets.template:Nope", registry.BadSubnet),
    ("subnets.template:DIM", registry.BadSubnet),  # exists but is not a SubnetSpec
    ("no_such_module:X", registry.BadSubnet),
])
def test_bad_names_raise_typed_errors(ref, error):
    with pytest.raises(error):
        registry.get(ref)
