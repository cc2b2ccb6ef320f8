"""Every `neuron …` command the code names (error hints, messages, help and doc strings) exists and parses.

The hints are collected from the source: each string literal (f-strings with their parts joined, log
formats) is searched for backticked `neuron …` commands, and for bare ones whose first word is a
command. Each is parsed by the real `neuron` parser (neurons.cli.main.build_parser) with placeholders:
an f-string field, a %s or an UPPERCASE metavar becomes "1"; `a|b` tries every alternative; COMMAND
tries every command.
"""
from __future__ import annotations

import argparse
import ast
import contextlib
import io
import itertools
import re
from pathlib import Path

import pytest

from neurons.cli.main import COMMANDS, build_parser

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ["neurons", "chain", "subnets", "consensus", "protocol", "bench", "scripts"]
COMMAND_NAMES = [name for name, _ in COMMANDS]
FIELD = "\x00"  # stands for an f-string's {…} until the placeholder pass
PLACEHOLDER = "\x01"  # a value to fill in (an f-string field, %s, an UPPERCASE metavar)

_TICKED = re.compile(r"`(neuron(?: [^`]*)?)`")
_BARE = re.compile(r"(?<![`\w./-])neuron ((?:%s)\b[^`\n;,()]*)" % "|".join(map(re.escape, COMMAND_NAMES)))
_METAVAR = re.compile(r"^[A-Z][A-Z0-9_]*$")


def _strings(tree: ast.AST):
    """(line, text, is a docstring) of each string literal; an f-string is one text, its fields FIELD."""
    inside, docs = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body \
                and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant):
            docs.add(id(node.body[0].value))
        if isinstance(node, ast.JoinedStr):
            inside.update(id(v) for v in node.values)
            text = "".join(v.value if isinstance(v, ast.Constant) and isinstance(v.value, str) else FIELD
                           for v in node.values)
            yield node.lineno, text, False
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in inside:
            yield node.lineno, node.value, id(node) in docs


def collect_hints() -> list[tuple[str, str, bool]]:
    """(where, command text, in a docstring) of every `neuron …` named in the source."""
    found = {}
    for top in SOURCES:
        for path in sorted((ROOT / top).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
            for line, text, doc in _strings(tree):
                for m in itertools.chain(_TICKED.finditer(text), _BARE.finditer(text)):
                    command = m.group(1) if m.re is _TICKED else "neuron " + m.group(1)
                    found.setdefault((f"{path.relative_to(ROOT)}:{line}", command.strip(), doc), None)
    return sorted(found)


def argv_variants(command: str) -> list[list[str]]:
    """The argument lists `command` stands for: alternatives expanded, placeholders left as PLACEHOLDER."""
    command = re.split(r"\s[>|]\s", command)[0]              # a shell redirect or pipe ends the command
    command = re.sub(r"%[sdrf]", PLACEHOLDER, command.replace(FIELD, PLACEHOLDER))
    words = [w for w in command.split()[1:] if w not in ("…", "...")]
    choices = []
    for i, w in enumerate(words):
        if w == "COMMAND" and i == 0:
            choices.append(COMMAND_NAMES)
        elif "|" in w and not w.startswith("-"):
            choices.append(w.split("|"))
        elif _METAVAR.match(w):
            choices.append([PLACEHOLDER])
        else:
            choices.append([w.rstrip(".:")])
    return [list(v) for v in itertools.product(*choices)]


def fill(parser: argparse.ArgumentParser, argv: list[str]) -> list[str]:
    """Placeholders become a value the option accepts: its first choice if it has choices, else "1"."""
    out, sub = [], parser
    for i, w in enumerate(argv):
        if w != PLACEHOLDER:
            out.append(w.replace(PLACEHOLDER, "1"))
            actions = {a.dest: a for a in sub._actions if isinstance(a, argparse._SubParsersAction)}
            for a in actions.values():  # descend into a sub-command
                if w in a.choices:
                    sub = a.choices[w]
            continue
        option = next((a for a in sub._actions if i and argv[i - 1] in a.option_strings), None)
        out.append(str(option.choices[0]) if option is not None and option.choices else "1")
    return out


def parse_error(parser: argparse.ArgumentParser, argv: list[str]) -> str | None:
    """None when `neuron ARGV` parses (or prints its help), else argparse's message."""
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            parser.parse_args(argv)
    except SystemExit as e:
        if e.code not in (0, None):
            return err.getvalue().strip().splitlines()[-1] if err.getvalue().strip() else f"exit {e.code}"
    return None


HINTS = collect_hints()


@pytest.fixture(scope="module")
def parser() -> argparse.ArgumentParser:
    return build_parser()


def test_hints_were_found():
    # the collector itself works: these hints are known to be in the source
    commands = {c for _, c, _ in HINTS}
    assert len(HINTS) >= 40
    assert any(c.startswith("neuron register --netuid") for c in commands)
    assert "neuron wallet create|new-hotkey|list|show|regen|import" in commands
    assert any(c.startswith("neuron wallet fund --chain") for c in commands)  # a hint split over f-string parts


@pytest.mark.parametrize("where, command, doc", HINTS, ids=[f"{w} {c}" for w, c, _ in HINTS])
def test_hint_names_a_command_that_parses(parser, where, command, doc):
    """A command line (with options or values) must parse as written; a docstring, or a bare command name
    (`neuron query`), may leave out the required arguments, but every word must exist."""
    failures = []
    for argv in argv_variants(command):
        err = parse_error(parser, fill(parser, argv))
        named_only = doc or not any(w.startswith("-") or PLACEHOLDER in w for w in argv)
        if err is not None and not (named_only and "the following arguments are required" in err):
            failures.append(f"neuron {' '.join(fill(parser, argv))}: {err}")
    assert not failures, f"{where}: `{command}` does not parse: " + "; ".join(failures)


def test_register_command_hint_parses(parser):
    """The miner's and validator's "not registered" hint is built by a function, not written out."""
    from neurons.cli.register import register_command
    from neurons.config.schema import NeuronConfig
    cfg = NeuronConfig(chain={"netuid": 3}, wallet={"name": "w1", "hotkey": "h2"})
    argv = register_command(cfg).split()[1:]
    assert parse_error(parser, argv) is None, register_command(cfg)


def test_the_checker_rejects_what_does_not_exist(parser):
    assert parse_error(parser, ["wallet", "regen", "--coldkey"]) is not None
    assert parse_error(parser, ["no-such-command"]) is not None
    assert [fill(parser, a) for a in argv_variants("neuron stake add|remove --amount TAO")] == [
        ["stake", "add", "--amount", "1"], ["stake", "remove", "--amount", "1"]]
    assert fill(parser, argv_variants("neuron localnet fetch --runtime N")[0])[-1] == "148"  # the first choice
