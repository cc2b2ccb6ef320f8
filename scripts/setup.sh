#!/usr/bin/env bash
# Install opensubnet and what its tests need into the current Python (use a venv if you prefer).
set -euo pipefail
cd "$(dirname "$0")/.."
# The CPU build of torch when this machine carries it (PyPI's default is the ~3 GB CUDA build).
python3 -m pip install --disable-pip-version-check -q "torch==2.13.0" 2>/dev/null \
  || echo "setup: torch 2.13.0 CPU wheel not available here; pip will pick a torch build"
python3 -m pip install --disable-pip-version-check -q -e ".[test]"
echo "setup: installed opensubnet ($(python3 -c 'import torch; print("torch", torch.__version__)'))"
