"""User-facing CLI errors (kept out of main.py so `python -m neurons.cli.main` sees one class)."""
from __future__ import annotations


class CLIError(Exception):
    """An error whose message tells the user what to do next; printed without a traceback (exit code 2)."""

    def __init__(self, message: str, *, hint: str | None = None):
        super().__init__(message)
        self.hint = hint
