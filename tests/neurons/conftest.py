"""Shared fixtures for the neurons tests."""
from __future__ import annotations

import os

import pytest


@pytest.fixture
def user_home(tmp_path, monkeypatch):
    """A user with an empty home in tmp_path/home, working in tmp_path, no OPENSUBNET_* settings."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    for key in [k for k in os.environ if k.upper().startswith("OPENSUBNET_")]:
        monkeypatch.delenv(key)
    return tmp_path
