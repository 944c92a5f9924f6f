"""Tools: a plain Python function the model can call. ``FunctionInvocation`` advertises it,
runs it when called (in a child task, so a slow tool never stalls the stream) and sends the
result back; the model then answers from it.

    python examples/tools.py
"""

from __future__ import annotations

import trio

import rtsession
from rtsession import messages as m
from rtsession.local import open_local_server, protocol_only_engines
from rtsession.middleware import FunctionInvocation, ToolInvocationCompleted


async def get_weather(city: str) -> dict[str, object]:
    """The current weather in a city."""
    await trio.sleep(0.1)  # stands for a call to a weather service
    return {"city": city, "temperature_c": 21, "condition": "sunny"}


async def main() -> None:
    tools = FunctionInvocation([get_weather])
    options = m.SessionOptions(output_modalities=("text",))
    async with open_local_server(engines=protocol_only_engines()) as server:
        provider = rtsession.OpenAIRealtime(base_url=server.base_url, api_key="local")
        async with rtsession.open_session(provider, options, middleware=[tools]) as session:
            question = m.InputText(text="What is the weather in Paris?")
            await session.send(
                m.ConversationItemCreate(item=m.MessageItem(role="user", content=(question,)))
            )
            await session.send(m.ResponseCreate())
            async for event in session:
                if isinstance(event, ToolInvocationCompleted):
                    print(f"called {event.name}: {event.output}")
                elif isinstance(event, m.ResponseOutputTextDone):
                    print(event.text)
                    break


if __name__ == "__main__":
    trio.run(main)
