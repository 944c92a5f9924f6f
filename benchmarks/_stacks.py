"""The middleware stacks and transports the benchmarks compare."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from benchmarks import corpus
from rtsession.middleware import Stage
from rtsession.transport import Transport, TrioWebsocketTransport, WebsocketsTrioTransport

STACKS = ("none", "default")
TRANSPORTS = ("trio-websocket", "websockets")


async def get_weather(city: str, unit: str = "celsius") -> str:
    """The weather in a city (a constant: the benchmark measures the plumbing)."""
    return f'{{"city": "{city}", "temperature": 24, "unit": "{unit}"}}'


get_weather.__name__ = corpus.TOOL_NAME


@cache
def otel_providers() -> tuple[object, object]:
    """An OpenTelemetry SDK tracer and meter provider with no exporter: spans and metrics are
    built and aggregated in memory, as in an app that exports them in the background. One
    pair per process, shared by all sessions, as an app configures them."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.trace import TracerProvider

    return TracerProvider(), MeterProvider()


def make_stack(name: str) -> Sequence[Stage]:
    """``none``: no middleware. ``default``: FunctionInvocation (with its ResponseGate),
    OpenTelemetry (SDK providers) and Logging (the stdlib logger left at its default level,
    so per-message records are skipped), in the documented order (observers last, nearest
    the provider)."""
    if name == "none":
        return ()
    if name == "default":
        from rtsession.middleware import FunctionInvocation, Logging, OpenTelemetry

        tracer_provider, meter_provider = otel_providers()
        return (
            FunctionInvocation([get_weather]),
            OpenTelemetry(
                tracer_provider=tracer_provider,  # type: ignore[arg-type]
                meter_provider=meter_provider,  # type: ignore[arg-type]
            ),
            Logging(),
        )
    raise ValueError(f"unknown stack {name!r}")


def make_transport(name: str) -> Transport:
    if name == "trio-websocket":
        return TrioWebsocketTransport()
    if name == "websockets":
        return WebsocketsTrioTransport()
    raise ValueError(f"unknown transport {name!r}")
