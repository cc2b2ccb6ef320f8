"""Real text and code, offline: the Python standard library on this machine.

Files split by a hash of their path into "fit" (20%: what fitted reference miners learn from)
and "eval" (80%: what validators draw challenges from), so no miner is scored on its own
training data. Both splits are public: challenges perturb what they draw (subnets/text/perturb.py),
so memorising them does not pay. Extracted corpora are cached, keyed by a fingerprint of the file list.
"""
from __future__ import annotations

import ast
import hashlib
import json
import logging
import os
import sysconfig
from functools import lru_cache
from pathlib import Path

import numpy as np

from subnets.cache import atomic_write, cache_dir

log = logging.getLogger(__name__)

SPLITS = ("fit", "eval")
FIT_SHARE = 0.2
# Large, generated or GUI-only trees that add little real library code.
SKIP_DIRS = {"test", "tests", "idlelib", "lib2to3", "site-packages", "dist-packages", "__pycache__",
             "tkinter", "turtledemo", "ensurepip", "pydoc_data", "encodings", "distutils"}


def stdlib_root() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


@lru_cache(maxsize=1)
def stdlib_files() -> tuple[str, ...]:
    """Sorted relative paths of the stdlib .py files the corpus uses."""
    root, out = stdlib_root(), []
    for here, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
        out += [os.path.relpath(os.path.join(here, f), root) for f in sorted(files) if f.endswith(".py")]
    if not out:
        raise RuntimeError(f"no Python sources under {root}; the text subnets need the stdlib .py files")
    return tuple(sorted(out))


def split_of(relpath: str) -> str:
    h = hashlib.sha256(relpath.encode()).digest()
    return "fit" if h[0] < 256 * FIT_SHARE else "eval"


@lru_cache(maxsize=1)
def fingerprint() -> str:
    root, h = stdlib_root(), hashlib.sha256()
    for rel in stdlib_files():
        h.update(f"{rel}:{(root / rel).stat().st_size};".encode())
    return h.hexdigest()[:12]


def files_of(split: str) -> list[str]:
    """Relative paths of the stdlib files in one split."""
    assert split in SPLITS, split
    return [r for r in stdlib_files() if split_of(r) == split]


@lru_cache(maxsize=256)
def source(rel: str) -> str:
    """The text of one stdlib file ("" when unreadable)."""
    return _read(rel) or ""


def _read(rel: str) -> str | None:
    try:
        return (stdlib_root() / rel).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _pairs_in(source: str, rel: str) -> list[dict]:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    out = []
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        doc = ast.get_docstring(node)
        summary = " ".join(doc.split("\n\n")[0].split()) if doc else ""
        if len(summary.split()) < 3:
            continue
        node.body = node.body[1:] or [ast.Pass()]  # drop the docstring from the code side
        try:
            code = ast.unparse(node)
        except (ValueError, RecursionError):
            continue
        out.append({"doc": summary, "code": code, "where": f"{rel}:{node.lineno}:{node.name}"})
    return out


@lru_cache(maxsize=2)
def code_pairs(split: str) -> list[dict]:
    """(docstring summary, function code) pairs of one split, deduplicated on both sides."""
    assert split in SPLITS, split
    path = cache_dir("corpus") / f"pairs-{fingerprint()}.json"
    if not path.exists():
        log.info("extracting docstring/code pairs from %d stdlib files (once, cached at %s)",
                 len(stdlib_files()), path)
        pairs: dict[str, list[dict]] = {s: [] for s in SPLITS}
        seen: set[str] = set()
        for rel in stdlib_files():
            for p in _pairs_in(_read(rel) or "", rel):
                if p["doc"] not in seen and p["code"] not in seen:
                    seen.update((p["doc"], p["code"]))
                    pairs[split_of(rel)].append(p)
        atomic_write(path, lambda tmp: tmp.write_text(json.dumps(pairs)))
        log.info("extracted %s pairs", {s: len(v) for s, v in pairs.items()})
    return json.loads(path.read_text())[split]


@lru_cache(maxsize=2)
def token_stream(split: str) -> np.ndarray:
    """All source files of one split as one stream of SmolLM2 token ids, files separated by
    <|endoftext|> (what text-next-token miners fit on): [n_tokens] int32."""
    assert split in SPLITS, split
    from subnets.text.lm import EOS_ID, encode

    path = cache_dir("corpus") / f"smollm2-tokens-{split}-{fingerprint()}.npy"
    if not path.exists():
        rels = files_of(split)
        log.info("tokenizing %d stdlib files (%s split, once, cached at %s)", len(rels), split, path)
        ids = encode([_read(r) or "" for r in rels])
        stream = np.fromiter((t for doc in ids for t in (*doc, EOS_ID)), dtype=np.int32)
        atomic_write(path, lambda tmp: np.save(tmp, stream))
    return np.load(path)
