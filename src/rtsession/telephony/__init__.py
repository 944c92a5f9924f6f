"""Telephony: phone calls to rtsession sessions.

``serve_twilio`` is a Twilio Media Streams bridge: each call's WebSocket (from a
``<Connect><Stream>`` in the number's TwiML, ``twiml``) becomes one session, with the
caller's G.711 audio in, the reply out, barge-in on Twilio's own playback clock (marks and
``clear``) and DTMF to the app. See ``docs/telephony.md``.
"""

from .._public import publish
from ._bridge import (
    TwilioBridge as TwilioBridge,
    TwilioCall as TwilioCall,
    serve_twilio as serve_twilio,
    twiml as twiml,
)
from ._twilio import TwilioProtocolError as TwilioProtocolError

__all__ = ["TwilioBridge", "TwilioCall", "TwilioProtocolError", "serve_twilio", "twiml"]

publish(__name__, globals())
del publish
