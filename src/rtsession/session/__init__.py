"""Sessions: ``open_session``, the ``Session`` it yields, and what it reports (the middleware
stage protocol, ``Stage`` and its channels and context, is ``rtsession.middleware``'s).

``open_session`` owns a nursery with the provider end (one writer, one reader per connection)
and one task per task stage (fused stages run inside those tasks); see ``docs/sessions.md`` for the lifecycle, channel sizes,
the provider end's states and guarantees, and error handling.
"""

from .._public import publish
from ._client import RealtimeClient as RealtimeClient
from ._conversation import Conversation as Conversation
from ._receive_channel import SessionReceiveChannel as SessionReceiveChannel
from ._reconnect import RETRIED_CLOSE_CODES as RETRIED_CLOSE_CODES, Reconnect as Reconnect
from ._responses import OpenResponses as OpenResponses
from ._send_channel import SessionSendChannel as SessionSendChannel
from ._session import (
    FLUSH_TIMEOUT as FLUSH_TIMEOUT,
    Session as Session,
    open_session as open_session,
)
from ._state import (
    CloseReason as CloseReason,
    SessionMetadata as SessionMetadata,
    SessionStatistics as SessionStatistics,
)

__all__ = [
    "RealtimeClient",
    "FLUSH_TIMEOUT",
    "RETRIED_CLOSE_CODES",
    "CloseReason",
    "Conversation",
    "OpenResponses",
    "Reconnect",
    "Session",
    "SessionMetadata",
    "SessionReceiveChannel",
    "SessionSendChannel",
    "SessionStatistics",
    "open_session",
]

publish(__name__, globals())
del publish
