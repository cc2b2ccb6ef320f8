"""`neuron subnet new NAME`: a new subnet file made from subnets/template.py."""
from __future__ import annotations

import re
from pathlib import Path

NAME_RE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
TEMPLATE = Path(__file__).with_name("template.py")


class BadName(ValueError):
    hint = "use lowercase letters, digits and single dashes, starting with a letter, e.g. my-subnet"


def names(name: str) -> tuple[str, str]:
    """Subnet name -> (module file stem, class name): "my-subnet" -> ("my_subnet", "MySubnet")."""
    if not NAME_RE.match(name) or len(name) > 48:
        raise BadName(f"{name!r} is not a valid subnet name")
    return name.replace("-", "_"), "".join(part.capitalize() for part in name.split("-"))


def render(name: str) -> str:
    """The template's source with its name, class and synapse renamed."""
    _, cls = names(name)
    src = TEMPLATE.read_text()
    for old, new in [
        ('"""Template subnet: miners', f'"""{name} subnet (from the opensubnet template): miners'),
        ("class Template(SubnetSpec):", f"class {cls}(SubnetSpec):"),
        ('name = "template"', f'name = "{name}"'),
        ('synapse = "VectorSum"', f'synapse = "{cls}"'),
    ]:
        if src.count(old) != 1:
            raise RuntimeError(f"subnets/template.py changed: expected one {old!r} to replace")
        src = src.replace(old, new)
    return src


def write(name: str, directory: Path, force: bool = False) -> Path:
    stem, _ = names(name)
    path = Path(directory) / f"{stem}.py"
    if path.exists() and not force:
        raise FileExistsError(f"{path} already exists (pass --force to overwrite)")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(name))
    return path
