"""docs/subnets.md shows the template verbatim, and that listing is itself a working subnet."""
import re
from pathlib import Path

from subnets.check import check_subnet
from subnets.template import Template

ROOT = Path(__file__).resolve().parents[2]


def test_docs_template_is_the_tested_template_file():
    docs = (ROOT / "docs" / "subnets.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", docs, flags=re.S)
    template = (ROOT / "subnets" / "template.py").read_text()
    assert template in blocks
    assert len(template.splitlines()) <= 60


def test_template_passes_the_subnet_checks():
    assert len(check_subnet(Template())) == 4
