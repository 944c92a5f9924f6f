"""A spoken turn from a WAV file: the offline server hears it, transcribes it and answers with
synthesized speech, written to ``reply.wav``.

    python examples/voice_turn.py [speech.wav]

Without an argument it speaks a clip shipped with rtsession ("What is the weather in Paris
today?").
"""

from __future__ import annotations

import sys

import trio

import rtsession
from rtsession import messages as m
from rtsession.audio import WavSource, sample, stream_wav, write_wav
from rtsession.local import open_local_server

RATE = 24_000


async def main(clip: WavSource) -> None:
    options = m.SessionOptions(
        input_transcription=m.InputTranscription(),  # report what the server heard
        turn_detection=m.ServerVad(),  # the server ends the turn and answers by itself
    )
    reply = bytearray()
    async with open_local_server() as server:
        provider = rtsession.OpenAIRealtime(base_url=server.base_url, api_key="local")
        async with rtsession.open_session(provider, options) as session:
            async for chunk in stream_wav(clip, rate=RATE, trailing_silence_ms=1_000):
                await session.send(m.InputAudioBufferAppend(audio=chunk))
            async for event in session:
                if isinstance(event, m.ConversationItemInputAudioTranscriptionCompleted):
                    print("heard:", event.transcript)
                elif isinstance(event, m.ResponseOutputAudioDelta):
                    reply += event.delta
                elif isinstance(event, m.ResponseOutputAudioTranscriptDone):
                    print("reply:", event.transcript)
                elif isinstance(event, m.ResponseDone):
                    break
    write_wav("reply.wav", bytes(reply), RATE)
    print(f"wrote reply.wav ({len(reply) / 2 / RATE:.1f} s)")


if __name__ == "__main__":
    trio.run(main, sys.argv[1] if len(sys.argv) > 1 else sample("weather-question"))
