"""Shared text plumbing for the built-in subnets: tokenizers (MiniLM, SmolLM2), the stdlib corpus,
per-challenge perturbation, gate features."""
