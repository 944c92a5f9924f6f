"""How to dial each realtime service: URL, authentication, TLS and wire format.

A ``Provider`` hands ``open_session`` a ``ConnectRequest`` and
a fresh codec per connection: ``OpenAIRealtime`` is the OpenAI Realtime API (GA, or the
beta dialect), ``AzureOpenAIRealtime`` an Azure OpenAI deployment (GA, or the preview
endpoint's beta dialect), ``GeminiLive`` Gemini Live on the Gemini API and
``VertexGeminiLive`` on Vertex AI (both are a ``ResumableProvider``).
"""

from .._public import publish
from ._azure import AzureOpenAIRealtime as AzureOpenAIRealtime
from ._base import Provider as Provider, ResumableProvider as ResumableProvider
from ._gemini import GeminiLive as GeminiLive, VertexGeminiLive as VertexGeminiLive
from ._openai import OpenAIRealtime as OpenAIRealtime

__all__ = [
    "AzureOpenAIRealtime",
    "GeminiLive",
    "OpenAIRealtime",
    "Provider",
    "ResumableProvider",
    "VertexGeminiLive",
]

publish(__name__, globals())
del publish
