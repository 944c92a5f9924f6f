"""Sans-I/O codecs, one per wire format: frames in, messages out, and back."""

from .._public import publish
from ._codec import Codec as Codec, Frame as Frame

__all__ = [
    "Codec",
    "Frame",
]

publish(__name__, globals())
del publish
