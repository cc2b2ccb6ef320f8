"""Shared fixtures: each built-in subnet and its reference miners, loaded once per test session."""
import pytest

from subnets.registry import get


@pytest.fixture(scope="session")
def embedding():
    return get("text-embedding")


@pytest.fixture(scope="session")
def next_token():
    return get("text-next-token")


@pytest.fixture(scope="session")
def embedding_miners(embedding):
    return {name: factory(0) for name, factory in embedding.miners().items()}


@pytest.fixture(scope="session")
def next_token_miners(next_token):
    return {name: factory(0) for name, factory in next_token.miners().items()}
