"""Shared text plumbing for the built-in subnets: the MiniLM tokenizer, the stdlib corpus, features."""
