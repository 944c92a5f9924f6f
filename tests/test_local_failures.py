"""``rtsession.local`` failing on purpose: ``LocalServer.close_connections`` and
``rtsession serve --close-every``, so apps (and rtsession's own reconnection) can be tried
against dropped sessions offline."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from rtsession import messages as m
from rtsession.cli import main
from rtsession.cli._serve import Failures
from rtsession.local import LocalServer, open_local_server, protocol_only_engines
from rtsession.providers import GeminiLive, OpenAIRealtime, Provider
from rtsession.session import Session, open_session
from rtsession.testing import AppInbox


def providers(server: LocalServer) -> list[Provider]:
    return [
        OpenAIRealtime(base_url=server.base_url, api_key="local"),
        GeminiLive(base_url=server.url, api_key="local"),
    ]


@pytest.mark.parametrize("dialect", [0, 1], ids=["openai", "gemini"])
@pytest.mark.parametrize("code", [1011, 1012, 4000])
async def test_close_connections_ends_each_session_with_the_code(dialect: int, code: int) -> None:
    inbox = AppInbox()
    read = trio.Event()

    async def read_all(session: Session) -> None:
        await inbox.drain(session)
        read.set()

    with trio.fail_after(10):
        async with (
            open_local_server(engines=protocol_only_engines()) as server,
            trio.open_nursery() as nursery,
        ):
            async with open_session(providers(server)[dialect], m.SessionOptions()) as session:
                nursery.start_soon(read_all, session)
                await inbox.receive_of(m.SessionCreated)
                assert await server.close_connections(code, "on purpose") == 1
                await read.wait()
            assert await server.close_connections() == 0  # nobody left
    assert inbox.error is not None
    assert (inbox.error.code, inbox.error.reason, inbox.error.closed_by) == (
        code,
        "on purpose",
        "server",
    )


@pytest.mark.parametrize(
    ("code", "reason"), [(1005, ""), (1006, ""), (999, ""), (5000, ""), (1011, "x" * 124)]
)
async def test_close_codes_a_server_cannot_send_are_refused(code: int, reason: str) -> None:
    async with open_local_server(engines=protocol_only_engines()) as server:
        with pytest.raises(ValueError, match="close"):
            await server.close_connections(code, reason)


async def test_serve_close_every_closes_sessions_periodically(
    lazy_clock: trio.testing.MockClock,
) -> None:
    ended: list[int | None] = []
    async with (
        open_local_server(engines=protocol_only_engines()) as server,
        trio.open_nursery() as nursery,
    ):
        nursery.start_soon(Failures(every=30, code=1013).run, server)
        provider = OpenAIRealtime(base_url=server.base_url, api_key="local")
        for _ in range(2):
            inbox = AppInbox()
            async with open_session(provider) as session:
                await inbox.drain(session)
            assert inbox.error is not None
            ended.append(inbox.error.code)
        closed_at = trio.current_time()
        nursery.cancel_scope.cancel()
    assert ended == [1013, 1013]
    assert 60 <= closed_at < 61


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--close-every", "0"], "--close-every must be a positive number"),
        (["--close-every", "5", "--close-code", "1006"], "close code 1006 cannot be sent"),
    ],
)
def test_serve_refuses_bad_failure_flags(
    flags: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve", "--protocol-only", *flags]) == 2
    assert message in capsys.readouterr().err
