"""text-next-token: predict the next shared-tokenizer token of stdlib source text."""
from subnets.text_next_token.spec import TextNextToken

__all__ = ["TextNextToken"]
