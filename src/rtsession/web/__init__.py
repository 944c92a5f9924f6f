"""A web voice client: a page that captures the microphone and plays the reply, and a
WebSocket relay that holds each page's session on the server, so the API key never reaches
the browser (``rtsession web``; ``docs/web.md``).

Needs the ``web`` extra (Starlette and Hypercorn).
"""

from .._public import publish
from ._app import RELAY_PATH as RELAY_PATH, create_app as create_app, serve_web as serve_web
from ._protocol import (
    MAX_FRAME_MS as MAX_FRAME_MS,
    PROTOCOL as PROTOCOL,
    PageProtocolError as PageProtocolError,
)
from ._relay import MAX_PAGE_ERRORS as MAX_PAGE_ERRORS, PageConnection as PageConnection

__all__ = [
    "MAX_FRAME_MS",
    "MAX_PAGE_ERRORS",
    "PROTOCOL",
    "RELAY_PATH",
    "PageConnection",
    "PageProtocolError",
    "create_app",
    "serve_web",
]

publish(__name__, globals())
del publish
