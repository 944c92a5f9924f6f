"""``BargeIn``: when the user talks over a reply, silence it and keep in the model's history
only what the user heard."""

from __future__ import annotations

from functools import partial
from typing import final

import attrs
import trio

from ..audio import Playback
from ..messages import (
    ClientMessage,
    ConversationItemTruncate,
    InputAudioBufferSpeechStarted,
    InterruptReason,
    OutputAudioBufferClear,
    PlaybackInterrupted,
    ResponseCancel,
    ResponseCreated,
    ResponseDone,
    ResponseOutputAudioDelta,
    SemanticVad,
    ServerMessage,
    ServerVad,
)
from ..session._stage import StageChannels, StageContext
from ..wire._frames import session_encoding
from ._stage_kit import Link, Relay, run_relay

__all__ = ["BargeIn"]


@final
class BargeIn:
    """A stage that stops the reply when the user talks over it, at the position heard.

    On the server's ``InputAudioBufferSpeechStarted``, or when the app sends
    ``OutputAudioBufferClear`` (handled here, never sent), while a reply is still being
    played or generated:

    1. the playback is flushed (``Playback.flush``), so it goes silent at once;
    2. the response is cancelled (``ResponseCancel``) if it is still being generated and
       the server does not cancel it by itself (it does on speech start unless the turn
       detection says ``interrupt_response=False``); its further audio deltas are dropped
       here, so they never reach the app's player;
    3. the interrupted item is truncated at the played position
       (``ConversationItemTruncate`` with ``audio_end_ms`` = ms played, on OpenAI and
       Azure, sent once its response has ended, as the service requires); Gemini Live
       keeps only what it sent, so nothing is sent there;
    4. the app gets a ``PlaybackInterrupted`` saying which item
       was cut, where, and why.

    A reply that was played to its end is not interrupted: speech after it is a new turn.
    With a ``FunctionInvocation`` behind it, a barge-in that cancels a response cancels
    its running calls, by that stage's rules.

    Without a ``playback``, the played position is estimated as real-time playback from
    each part's first delta (after the previous part's end), clamped to the audio
    received: approximate, and marked ``estimated`` in the message. Give it the speaker of
    ``rtsession.audio.open_speaker``, an ``OutputBuffer``, or any
    ``Playback`` of your own (``docs/voice-agent.md``).

    Args:
        playback: the local audio output to flush and ask for the played position.
    """

    serves = (OutputAudioBufferClear,)
    """The client messages this stage consumes (accepted by ``send`` on every provider)."""

    def __init__(self, playback: Playback | None = None) -> None:
        self._playback = playback

    async def run(self, context: StageContext, channels: StageChannels) -> None:
        """Watch for barge-in until both inputs have ended.

        Cancellation: truncations waiting for their response to end are dropped.
        """
        await run_relay(partial(_BargeIn, self._playback), context, channels)


@attrs.define
class _Part:
    """One assistant audio part, as far as received."""

    item_id: str
    content_index: int
    response_id: str
    received_ms: float = 0.0
    starts_at: float = 0.0  # when real-time playback of it would start (the estimate)


class _BargeIn(Relay):
    def __init__(self, playback: Playback | None, link: Link) -> None:
        super().__init__(link)
        self._playback = playback
        self._last: _Part | None = None  # the part that received audio last
        self._open: set[str] = set()  # responses being generated
        self._silenced: set[str] = set()  # interrupted responses: their audio is dropped
        self._truncate_after: dict[str, list[ConversationItemTruncate]] = {}

    async def client_message(self, message: ClientMessage) -> None:
        if isinstance(message, OutputAudioBufferClear):
            cut = self._cut("client")
            if cut is not None:
                await self._report(cut)
        else:
            await self.link.to_provider(message)

    async def server_message(self, message: ServerMessage) -> None:
        if isinstance(message, ResponseOutputAudioDelta):
            if message.response_id in self._silenced:
                return
            self._received(message)
        elif isinstance(message, ResponseCreated) and message.response.id is not None:
            self._open.add(message.response.id)
        elif isinstance(message, ResponseDone):
            await self._response_done(message.response.id)
        elif isinstance(message, InputAudioBufferSpeechStarted):
            cut = self._cut("speech_started")  # silent first, before anything waits
            await self.link.to_app(message)
            if cut is not None:
                await self._report(cut)
            return
        await self.link.to_app(message)

    def _received(self, delta: ResponseOutputAudioDelta) -> None:
        part = self._last
        if part is None or (part.item_id, part.content_index) != (
            delta.item_id,
            delta.content_index,
        ):
            now = trio.current_time()
            starts_at = now if part is None else max(now, part.starts_at + part.received_ms / 1e3)
            part = self._last = _Part(
                delta.item_id, delta.content_index, delta.response_id, starts_at=starts_at
            )
        output = session_encoding(self.link.context.options.output_audio_format)
        part.received_ms += output.ms(len(delta.delta))

    async def _response_done(self, response_id: str | None) -> None:
        if response_id is None:
            return
        self._open.discard(response_id)
        self._silenced.discard(response_id)
        for truncate in self._truncate_after.pop(response_id, ()):
            await self.link.to_provider(truncate)

    def _cut(self, reason: InterruptReason) -> PlaybackInterrupted | None:
        """Silence the part being played, if it is being played or generated; what was cut."""
        part = self._last
        if part is None:
            return None
        if self._playback is None:
            played = (trio.current_time() - part.starts_at) * 1000.0
        else:
            played = self._playback.tracker.played_ms(part.item_id, part.content_index)
        generating = part.response_id in self._open
        if played >= part.received_ms and not generating:
            return None  # heard to its end: speech now is a new turn, not an interruption
        if self._playback is not None:
            self._playback.flush()
            played = self._playback.tracker.played_ms(part.item_id, part.content_index)
        self._last = None
        if generating:
            self._silenced.add(part.response_id)
        return PlaybackInterrupted(
            item_id=part.item_id,
            content_index=part.content_index,
            response_id=part.response_id,
            audio_end_ms=int(min(max(played, 0.0), part.received_ms)),
            audio_ms=int(part.received_ms),
            reason=reason,
            truncated=self.link.context.carries(ConversationItemTruncate),
            estimated=self._playback is None,
        )

    async def _report(self, cut: PlaybackInterrupted) -> None:
        """Cancel the response if needed, truncate the item (now or once its response has
        ended), and tell the app."""
        generating = cut.response_id in self._silenced
        context = self.link.context
        if generating and not self._server_cancels(cut.reason) and context.carries(ResponseCancel):
            await self.link.to_provider(ResponseCancel(response_id=cut.response_id))
        if cut.truncated:
            truncate = ConversationItemTruncate(
                item_id=cut.item_id, content_index=cut.content_index, audio_end_ms=cut.audio_end_ms
            )
            if generating:
                self._truncate_after.setdefault(cut.response_id, []).append(truncate)
            else:
                await self.link.to_provider(truncate)
        await self.link.to_app(cut)

    def _server_cancels(self, reason: InterruptReason) -> bool:
        """Whether the server cancels the response by itself on this interruption."""
        if reason != "speech_started":
            return False
        detection = self.link.context.options.turn_detection
        if isinstance(detection, ServerVad | SemanticVad):
            return detection.interrupt_response is not False
        return detection is None  # unset: the services' default, server VAD that interrupts
