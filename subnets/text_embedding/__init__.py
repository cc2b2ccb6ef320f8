"""text-embedding: retrieve a stdlib function's code from its docstring, by in-batch similarity."""
from subnets.text_embedding.spec import TextEmbedding

__all__ = ["TextEmbedding"]
