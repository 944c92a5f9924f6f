"""The Gemini Live wire format (``BidiGenerateContent``), normalized to the GA vocabulary."""

from ..._public import publish
from ._codec import GeminiCodec as GeminiCodec
from ._fields import INPUT_RATE as INPUT_RATE, OUTPUT_RATE as OUTPUT_RATE

__all__ = [
    "INPUT_RATE",
    "OUTPUT_RATE",
    "GeminiCodec",
]

publish(__name__, globals())
del publish
