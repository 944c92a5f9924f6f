"""The OpenAI Realtime GA wire format."""

from ..._public import publish
from ._codec import OpenAICodec as OpenAICodec
from ._common import PCM_RATE as PCM_RATE, ROLE_PARTS as ROLE_PARTS

__all__ = [
    "PCM_RATE",
    "ROLE_PARTS",
    "OpenAICodec",
]

publish(__name__, globals())
del publish
