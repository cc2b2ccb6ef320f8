"""The `neuron` dispatcher: help lists every command on one line, errors print a hint not a traceback."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from neurons.cli import main as cli
from neurons.cli.errors import CLIError

REPO = Path(__file__).resolve().parents[2]


def available_commands() -> list[tuple[str, str]]:
    """(name, HELP) of every command this build ships (a module that fails to import shows why)."""
    return [(name, mod.HELP) for name, module in cli.COMMANDS if (mod := cli._load(module)) is not None]


def test_help_in_a_real_subprocess_lists_every_command_on_one_line():
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    r = subprocess.run([sys.executable, "-m", "neurons.cli.main", "--help"], cwd=REPO, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    commands = available_commands()
    assert {"wallet", "config", "register"} <= {name for name, _ in commands}
    for name, help_ in commands:
        line = next((ln for ln in lines if ln.split()[:1] == [name]), None)
        assert line is not None, f"{name} missing from --help"
        assert line.split(None, 1)[1] == " ".join(help_.split()), f"{name}'s help is not on one line"


def test_no_command_prints_help(capsys):
    assert cli.main([]) == 0
    assert "commands:" in capsys.readouterr().out


def test_cli_error_prints_message_and_hint_with_exit_2(monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cli.main(["register"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no subnet given") and "-> pass --netuid N" in err and "Traceback" not in err


def test_a_broken_command_module_does_not_break_the_others(monkeypatch, tmp_path, capsys):
    (tmp_path / "fake_broken_cmd.py").write_text("raise RuntimeError('boom at import')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(cli, "COMMANDS", [*cli.COMMANDS, ("broken", "fake_broken_cmd"), ("absent", "fake_absent_cmd")])
    text = cli.build_parser().format_help()
    assert "  broken" in text and "absent" not in text
    assert any(ln.split() == ["broken", "(unavailable:", "RuntimeError:", "boom", "at", "import)"] for ln in text.splitlines())
    assert cli.main(["broken", "x"]) == 2
    assert "fake_broken_cmd failed to import: RuntimeError: boom at import" in capsys.readouterr().err


def test_cli_error_is_one_class_for_main_and_commands():
    assert cli.CLIError is CLIError


def test_verbose_reraises_for_the_traceback(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(CLIError):
        cli.main(["-v", "register"])
