"""Per-challenge perturbation of public source code, so a lookup table of the corpus misses.

`rename(source, rng)` renames every identifier that is ours to rename (not a keyword, builtin,
attribute, dunder, `self`/`cls`) consistently to a fresh pronounceable name drawn from `rng`
(seeded by the validator's secret seed). Code keeps its structure and meaning, so a model that
reads it still works; the exact text, and so every memorised answer keyed on it, is new.
"""
from __future__ import annotations

import ast
import builtins
import io
import keyword
import random
import tokenize
from functools import lru_cache

KEEP = frozenset({*keyword.kwlist, *keyword.softkwlist, *dir(builtins), "self", "cls", "_"})
_CONSONANTS, _VOWELS = "bdfgklmnprstvz", "aeiou"


@lru_cache(maxsize=512)
def name_spans(source: str) -> tuple[tuple[int, int, str], ...]:
    """(start, end, name) char spans of the renamable identifiers of `source`; () if it does not tokenize."""
    line_starts = [0]
    for line in source.splitlines(keepends=True):
        line_starts.append(line_starts[-1] + len(line))
    out, prev = [], None
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if (tok.type == tokenize.NAME and tok.string not in KEEP and not tok.string.startswith("__")
                    and not (prev is not None and prev.type == tokenize.OP and prev.string == ".")):
                start = line_starts[tok.start[0] - 1] + tok.start[1]
                out.append((start, start + len(tok.string), tok.string))
            if tok.type not in (tokenize.NL, tokenize.COMMENT):
                prev = tok
    except (tokenize.TokenError, IndentationError, SyntaxError, ValueError):
        return ()
    return tuple(out)


def fresh_name(rng: random.Random, taken: set[str]) -> str:
    """A pronounceable identifier (e.g. "tukamo") not in `taken`; added to it."""
    while True:
        name = "".join(rng.choice(_CONSONANTS) + rng.choice(_VOWELS) for _ in range(rng.randint(2, 4)))
        if name not in taken and name not in KEEP:
            taken.add(name)
            return name


def rename(source: str, rng: random.Random, keep: frozenset[str] = frozenset(),
           spans: tuple[tuple[int, int, str], ...] | None = None) -> str:
    """`source` with each renamable identifier (other than `keep`) replaced, consistently, by a fresh name."""
    spans = name_spans(source) if spans is None else spans
    taken = {name for _, _, name in spans}
    mapping: dict[str, str] = {}
    parts, last = [], 0
    for start, end, name in spans:
        if name in keep:
            continue
        if name not in mapping:
            mapping[name] = fresh_name(rng, taken)
        parts += [source[last:start], mapping[name]]
        last = end
    return "".join(parts) + source[last:]


def local_names(code: str) -> set[str]:
    """Parameters, assigned names and nested definitions of the function(s) in `code`
    (what renaming leaves the code's meaning unchanged); empty if `code` does not parse."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError):
        return set()
    tops = {id(n) for n in tree.body}
    out = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.arg):
            out.add(n.arg)
        elif isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
            out.add(n.id)
        elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and id(n) not in tops:
            out.add(n.name)
    return out


def rename_function(code: str, rng: random.Random) -> str:
    """One function's code with new local names; when it has none, its other names are renamed
    too (the function's own name last), so the text always changes when it has any identifier."""
    spans = name_spans(code)
    names = {name for _, _, name in spans}
    try:
        own = {n.name for n in ast.parse(code).body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    except (SyntaxError, ValueError, RecursionError):
        own = set()
    for chosen in (local_names(code) & names, names - own, names):
        if chosen:
            return rename(code, rng, keep=frozenset(names - chosen), spans=spans)
    return code
