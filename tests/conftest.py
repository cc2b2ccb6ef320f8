"""Options for the whole suite. `--long` (or OPENSUBNET_LONG=1): the full reliability runs (50 validator kill cycles, more chain drops)."""
from __future__ import annotations


def pytest_addoption(parser):
    parser.addoption("--long", action="store_true", default=False,
                     help="reliability tests: run the full versions (also OPENSUBNET_LONG=1)")
