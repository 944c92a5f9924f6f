"""Text chat in the terminal: each line you type is a user turn, the reply is printed.

Runs offline against ``rtsession.local`` (rule-based replies); pass ``--openai`` to talk to
the real service instead (needs ``OPENAI_API_KEY``). End with Ctrl+D.

    python examples/text_chat.py
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio

import rtsession
from rtsession import messages as m
from rtsession.local import open_local_server, protocol_only_engines


@asynccontextmanager
async def provider(real: bool) -> AsyncIterator[rtsession.Provider]:
    if real:
        yield rtsession.OpenAIRealtime()
        return
    async with open_local_server(engines=protocol_only_engines()) as server:
        yield rtsession.OpenAIRealtime(base_url=server.base_url, api_key="local")


async def main(real: bool) -> None:
    options = m.SessionOptions(output_modalities=("text",), instructions="Answer briefly.")
    async with provider(real) as chosen, rtsession.open_session(chosen, options) as session:
        while line := await trio.to_thread.run_sync(sys.stdin.readline):
            text = line.strip()
            if not text:
                continue
            item = m.MessageItem(role="user", content=(m.InputText(text=text),))
            await session.send(m.ConversationItemCreate(item=item))
            await session.send(m.ResponseCreate())
            async for event in session:
                if isinstance(event, m.ResponseOutputTextDelta):
                    print(event.delta, end="", flush=True)
                elif isinstance(event, m.ResponseDone):
                    print()
                    break


if __name__ == "__main__":
    trio.run(main, "--openai" in sys.argv[1:])
