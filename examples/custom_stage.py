"""A middleware stage of your own (a fused one): it forwards everything and adds an app-side
event with the whole text of each response. ``docs/middleware.md`` describes the stage contract.

    python examples/custom_stage.py
"""

from __future__ import annotations

import attrs
import trio

import rtsession
from rtsession import messages as m
from rtsession.local import open_local_server, protocol_only_engines
from rtsession.middleware import FusedLink, FusedRelay


@attrs.frozen(kw_only=True)
class ResponseText(m.ServerMessage):
    """An app-side event (never sent on the wire): the whole text of a response."""

    response_id: str
    text: str


class GatherText(FusedRelay):
    """One session's state: the text so far, per response."""

    def __init__(self, link: FusedLink) -> None:
        super().__init__(link)
        self._parts: dict[str, list[str]] = {}

    def server_message(self, message: m.ServerMessage) -> m.ServerMessage:
        if isinstance(message, m.ResponseOutputTextDelta):
            self._parts.setdefault(message.response_id, []).append(message.delta)
        elif isinstance(message, m.ResponseDone) and message.response.id in self._parts:
            text = "".join(self._parts.pop(message.response.id))
            self.link.to_app(message)  # the ResponseDone first, then the whole text
            return ResponseText(response_id=message.response.id, text=text)
        return message  # forward everything else, unchanged


class GatherTextStage:
    """A fused stage: its hooks run inside the session's own tasks (no task hop)."""

    def fuse(self) -> tuple[type[GatherText]]:
        return (GatherText,)


async def main() -> None:
    options = m.SessionOptions(output_modalities=("text",))
    async with open_local_server(engines=protocol_only_engines()) as server:
        provider = rtsession.OpenAIRealtime(base_url=server.base_url, api_key="local")
        stages = [GatherTextStage()]
        async with rtsession.open_session(provider, options, middleware=stages) as session:
            item = m.MessageItem(role="user", content=(m.InputText(text="Thanks!"),))
            await session.send(m.ConversationItemCreate(item=item))
            await session.send(m.ResponseCreate())
            async for event in session:
                if isinstance(event, ResponseText):
                    print(f"{event.response_id}: {event.text}")
                    break


if __name__ == "__main__":
    trio.run(main)
