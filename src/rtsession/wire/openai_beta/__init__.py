"""The OpenAI Realtime beta (preview) wire format, also spoken by Azure OpenAI preview."""

from ..._public import publish
from ._codec import OpenAIBetaCodec as OpenAIBetaCodec, beta_param as beta_param

__all__ = [
    "OpenAIBetaCodec",
    "beta_param",
]

publish(__name__, globals())
del publish
