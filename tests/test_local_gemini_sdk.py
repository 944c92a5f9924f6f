"""The official ``google-genai`` SDK against ``rtsession.local``: a text turn and an audio turn.

The SDK is asyncio-only and dials only ``wss://`` (gemini-live.md section 9), so the server
runs with a throwaway certificate (``trustme``) and the client script
(``tests/sdk_clients/gemini_turns.py``) runs in a subprocess that trusts its authority, printing
what it received as JSON lines, each frame checked against the SDK's ``LiveServerMessage``.
"""

from __future__ import annotations

from pathlib import Path

import trio

from _sdk import TIMEOUT, run_sdk_script
from _servers import trusted_tls
from rtsession.local import open_local_server, protocol_only_engines


async def test_the_official_sdk_completes_a_text_turn_and_an_audio_turn(tmp_path: Path) -> None:
    tls = trusted_tls(tmp_path)
    with trio.fail_after(TIMEOUT):
        async with open_local_server(
            engines=protocol_only_engines(), ssl_context=tls.server
        ) as server:
            base_url = f"https://{server.host}:{server.port}"
            lines = await run_sdk_script("gemini_turns.py", base_url, str(tls.ca_file))
    text = [line for line in lines if line["turn"] == "text"]
    audio = [line for line in lines if line["turn"] == "audio"]

    assert text[0]["keys"] == ["sessionResumptionUpdate"]  # right after the setup
    assert text[0]["handle"]
    assert "".join(line.get("text", "") for line in text) == "Hello! How can I help you today?"
    assert text[-1]["turn_complete"]
    assert text[-1]["keys"] == ["serverContent", "usageMetadata"]

    assert audio[0]["keys"] == ["sessionResumptionUpdate"]  # the resumed session's setup
    assert audio[0]["handle"] != text[0]["handle"]
    activity = [i for i, line in enumerate(audio) if line["keys"] == ["voiceActivity"]]
    assert activity[0] == 1  # the start of speech, then the transcription streams
    heard = [i for i, line in enumerate(audio) if line.get("input_transcription")]
    assert heard[0] < activity[1]  # while the user speaks
    said = "".join(line.get("input_transcription", "") for line in audio)
    assert said == "What is the weather in paris today?"
    spoken = "".join(line.get("output_transcription", "") for line in audio)
    assert spoken == "It is sunny and 21 degrees in Paris."
    assert {m for line in audio for m in line.get("mime", [])} == {"audio/pcm;rate=24000"}
    assert sum(line.get("audio_bytes", 0) for line in audio) == 2 * 24 * 60 * len(spoken)
    assert audio[-1]["turn_complete"]
