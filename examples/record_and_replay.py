"""Record a session, then replay it without any server: the deterministic test of your own
agent. The recording is a JSONL file of every frame both ways (``docs/recording.md``).

    python examples/record_and_replay.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import trio

import rtsession
from rtsession import messages as m
from rtsession.local import open_local_server, protocol_only_engines
from rtsession.testing import ReplayTransport
from rtsession.transport import RecordingTransport, TrioWebsocketTransport

OPTIONS = m.SessionOptions(output_modalities=("text",))


async def agent(session: rtsession.Session) -> str:
    """The code under test: one text turn, returns the reply."""
    item = m.MessageItem(role="user", content=(m.InputText(text="What time is it?"),))
    await session.send(m.ConversationItemCreate(item=item))
    await session.send(m.ResponseCreate())
    async for event in session:
        if isinstance(event, m.ResponseOutputTextDone):
            return event.text
    raise RuntimeError("the session ended without a reply")


async def main() -> None:
    path = Path(tempfile.mkdtemp()) / "session.jsonl"
    async with open_local_server(engines=protocol_only_engines()) as server:
        provider = rtsession.OpenAIRealtime(base_url=server.base_url, api_key="local")
        recorder = RecordingTransport(TrioWebsocketTransport(), path)
        async with rtsession.open_session(provider, OPTIONS, transport=recorder) as session:
            live = await agent(session)
    print("live:    ", live)

    replay = ReplayTransport(path)  # no server from here on
    provider = rtsession.OpenAIRealtime(api_key="unused")  # gives the codec; nothing is dialed
    with trio.fail_after(10):
        async with rtsession.open_session(provider, OPTIONS, transport=replay) as session:
            replayed = await agent(session)
    replay.assert_complete()
    print("replayed:", replayed)


if __name__ == "__main__":
    trio.run(main)
