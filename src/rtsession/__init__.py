"""rtsession: realtime AI conversations for trio programs.

The common path::

    import trio
    import rtsession
    from rtsession import messages

    async def main() -> None:
        provider = rtsession.OpenAIRealtime()  # key from OPENAI_API_KEY
        async with rtsession.open_session(provider, messages.SessionOptions()) as session:
            await session.send(messages.ResponseCreate(instructions="Say hello."))
            async for event in session:
                ...

Messages live in ``rtsession.messages``, codecs in ``rtsession.wire``, audio helpers
in ``rtsession.audio``, the offline server in ``rtsession.local``.
"""

from . import messages as messages
from ._errors import (
    ConnectError as ConnectError,
    DecodeError as DecodeError,
    EncodeError as EncodeError,
    NotInTrioError as NotInTrioError,
    RTSessionError as RTSessionError,
    SessionClosedError as SessionClosedError,
    ToolInvocationError as ToolInvocationError,
)
from ._public import publish
from .messages import DISABLED as DISABLED, SessionOptions as SessionOptions
from .providers import (
    AzureOpenAIRealtime as AzureOpenAIRealtime,
    GeminiLive as GeminiLive,
    OpenAIRealtime as OpenAIRealtime,
    Provider as Provider,
    VertexGeminiLive as VertexGeminiLive,
)
from .session import (
    RealtimeClient as RealtimeClient,
    Reconnect as Reconnect,
    Session as Session,
    open_session as open_session,
)

__all__ = [
    "RealtimeClient",
    "DISABLED",
    "AzureOpenAIRealtime",
    "ConnectError",
    "DecodeError",
    "EncodeError",
    "GeminiLive",
    "NotInTrioError",
    "OpenAIRealtime",
    "Provider",
    "RTSessionError",
    "Reconnect",
    "Session",
    "SessionClosedError",
    "SessionOptions",
    "ToolInvocationError",
    "VertexGeminiLive",
    "messages",
    "open_session",
]

__version__ = "0.1.0"

publish(__name__, globals())
del publish
