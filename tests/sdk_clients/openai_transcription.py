"""A transcription session with the official ``openai`` SDK (asyncio) against a server.

Usage: ``python openai_transcription.py BASE_URL``. Connects with ``?intent=transcription``
(as the SDK's docstring says), configures the session as ``type: "transcription"``, speaks
1.2 s of tone between silences, then asks for a response (which a transcription session
refuses). Prints one JSON line per server event, as ``openai_turns.py`` does, with
``"problems"`` when the SDK's models reject the frame and ``"session_type"`` for
``session.*`` events.
"""

from __future__ import annotations

import asyncio
import base64
import json
import sys
from typing import Any

from openai import AsyncOpenAI
from openai_turns import CHUNK, RATE, problems, tone


def report(event: Any, frame: bytes) -> None:
    line: dict[str, Any] = {"type": event.type}
    found = problems(frame)
    if found:
        line["problems"] = found
    if event.type.startswith("session."):
        line["session_type"] = event.session.type
    transcript = getattr(event, "transcript", None)
    if isinstance(transcript, str):
        line["transcript"] = transcript
    print(json.dumps(line), flush=True)


async def until(connection: Any, last: str) -> None:
    while True:
        frame = await connection.recv_bytes()
        event = connection.parse_event(frame)
        report(event, frame)
        if event.type == last:
            return


async def main(base_url: str) -> None:
    client = AsyncOpenAI(api_key="sk-local", base_url=base_url)
    async with client.realtime.connect(
        model="gpt-realtime", extra_query={"intent": "transcription"}
    ) as connection:
        await until(connection, "session.created")
        await connection.session.update(
            session={
                "type": "transcription",
                "audio": {
                    "input": {
                        "format": {"type": "audio/pcm", "rate": RATE},
                        "transcription": {"model": "gpt-4o-transcribe", "language": "en"},
                        "turn_detection": {"type": "server_vad", "silence_duration_ms": 300},
                    }
                },
            }
        )
        await until(connection, "session.updated")
        audio = bytes(2 * RATE // 2) + tone(1.2) + bytes(2 * RATE)
        for i in range(0, len(audio), 2 * CHUNK):
            chunk = base64.b64encode(audio[i : i + 2 * CHUNK]).decode()
            await connection.input_audio_buffer.append(audio=chunk)
        await until(connection, "conversation.item.input_audio_transcription.completed")
        await connection.response.create()
        await until(connection, "error")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
