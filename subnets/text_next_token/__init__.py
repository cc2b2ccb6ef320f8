"""text-next-token: predict the next SmolLM2 token of stdlib source whose names are renamed per challenge."""
from subnets.text_next_token.spec import TextNextToken

__all__ = ["TextNextToken"]
