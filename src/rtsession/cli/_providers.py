"""The providers the commands can talk to, by name: the embedded local server or a service."""

from __future__ import annotations

import argparse
import os
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, Final, TextIO

import attrs

from ..providers import AzureOpenAIRealtime, GeminiLive, OpenAIRealtime, Provider
from ..wire import gemini, openai

__all__ = ["Rates", "add_provider_arguments", "open_provider", "rates"]

_NEEDS: Final = {
    "openai": "OPENAI_API_KEY",
    "azure": "AZURE_OPENAI_ENDPOINT, AZURE_OPENAI_DEPLOYMENT (or --model) and AZURE_OPENAI_API_KEY",
    "gemini": "GEMINI_API_KEY (or GOOGLE_API_KEY)",
}


_DESCRIPTIONS: Final = {  # the providers the commands can talk to
    "local": "an embedded offline server, spoken to as OpenAI Realtime",
    "gemini-local": "the same server, spoken to as Gemini Live",
    "openai": "OpenAI Realtime (OPENAI_API_KEY)",
    "azure": "Azure OpenAI (AZURE_OPENAI_ENDPOINT, AZURE_OPENAI_DEPLOYMENT or --model, "
    "AZURE_OPENAI_API_KEY)",
    "gemini": "Gemini Live (GEMINI_API_KEY or GOOGLE_API_KEY)",
}


def add_provider_arguments(parser: argparse.ArgumentParser, choices: Sequence[str]) -> None:
    """Add ``--provider`` (one of ``choices``, ``local`` by default) and ``--model``."""
    parser.add_argument(
        "--provider",
        choices=choices,
        default="local",
        help="; ".join(f"{name}: {_DESCRIPTIONS[name]}" for name in choices)
        + " (default: %(default)s)",
    )
    parser.add_argument(
        "--model", help="the model (default: the provider's), or the Azure deployment"
    )


@attrs.frozen
class Rates:
    """The PCM16 rates of a provider's audio, Hz."""

    input: int
    output: int


def rates(name: str) -> Rates:
    """The input and output rates of the provider called ``name`` (a wire fact)."""
    if name in ("gemini", "gemini-local"):
        return Rates(gemini.INPUT_RATE, gemini.OUTPUT_RATE)
    return Rates(openai.PCM_RATE, openai.PCM_RATE)


@asynccontextmanager
async def open_provider(
    command: str, name: str, model: str | None, out: TextIO
) -> AsyncIterator[Provider]:
    """The provider called ``name``; for the local ones, a server started for the block.

    Raises:
        SystemExit: a service's credentials are missing (the message says which, for
            ``rtsession <command>``).
    """
    chosen: dict[str, Any] = {"model": model} if model else {}  # else the default
    if name in _NEEDS:
        yield _service(command, name, model)
        return
    from ..local import open_local_server

    out.write("starting the local server (loading the speech models)...\n")
    out.flush()
    async with open_local_server() as server:
        out.write(f"local server on {server.url}\n")
        if name == "gemini-local":
            yield GeminiLive(**chosen, base_url=server.url, api_key="local")
        else:
            yield OpenAIRealtime(**chosen, base_url=server.base_url, api_key="local")


def _service(command: str, name: str, model: str | None) -> Provider:
    chosen: dict[str, Any] = {"model": model} if model else {}
    try:
        if name == "openai":
            return OpenAIRealtime(**chosen)
        if name == "gemini":
            return GeminiLive(**chosen)
        deployment = model or os.environ.get("AZURE_OPENAI_DEPLOYMENT", "")
        return AzureOpenAIRealtime(os.environ.get("AZURE_OPENAI_ENDPOINT", ""), deployment)
    except ValueError as error:
        raise SystemExit(
            f"rtsession {command} --provider {name} needs {_NEEDS[name]}: {error}"
        ) from None
