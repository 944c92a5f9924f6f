"""The WebSocket behind a four-call interface: connect, send, receive, close.

``Transport`` and ``Connection`` are the seam; ``TrioWebsocketTransport`` is
the default implementation; ``RecordingTransport`` wraps any transport and writes each
connection's frames to a file (``docs/recording.md``). Transports map their library's exceptions to rtsession errors at
this edge: ``ConnectError`` while connecting,
``SessionClosedError`` once the connection is closed.
"""

from .._public import publish
from ._base import (
    DEFAULT_MAX_MESSAGE_SIZE as DEFAULT_MAX_MESSAGE_SIZE,
    Connection as Connection,
    ConnectRequest as ConnectRequest,
    Transport as Transport,
)
from ._dial import CLOSE_TIMEOUT as CLOSE_TIMEOUT
from ._recording import RecordingTransport as RecordingTransport
from ._trio_websocket import TrioWebsocketTransport as TrioWebsocketTransport
from ._websockets import WebsocketsTrioTransport as WebsocketsTrioTransport

__all__ = [
    "CLOSE_TIMEOUT",
    "DEFAULT_MAX_MESSAGE_SIZE",
    "ConnectRequest",
    "Connection",
    "RecordingTransport",
    "Transport",
    "TrioWebsocketTransport",
    "WebsocketsTrioTransport",
]

publish(__name__, globals())
del publish
