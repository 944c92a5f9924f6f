"""What the local server answers: deterministic rules instead of a language model.

The rules, first match wins (docs/local-server.md, "Replies", has the same table):

1. The response's instructions (``response.create`` overrides the session's) contain
   ``say "..."`` (any quotes): say the quoted text.
2. The last item of the context, skipping system messages, decides:

   - a ``function_call_output``: answer from its JSON output (``answer_from_output``);
   - a ``function_call`` without output: "I am waiting for the result of NAME.";
   - an assistant message: "Is there anything else I can help you with?";
   - nothing: "Hello! How can I help you today?";
   - a user message: its text (``input_text`` parts and audio transcripts) goes through the
     tool rule (``choose_tool``), then the phrase table ``PHRASES``, then the echo
     "You said: TEXT." ("Sorry, I did not catch that." when there is no text; an image with
     no text gets "I see an image, but I cannot describe images.").

Words are matched case-insensitively on letters, digits and apostrophes; punctuation is ignored.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final, TypeAlias

import attrs

from .. import messages as m
from ._conversation import Entry

__all__ = [
    "PHRASES",
    "CallFunction",
    "Reply",
    "Say",
    "answer_from_output",
    "choose_tool",
    "decide_reply",
    "function_arguments",
    "place_in",
    "user_text",
]


@attrs.frozen
class Say:
    """Answer with speech (or text, in text-only mode)."""

    text: str


@attrs.frozen
class CallFunction:
    """Answer with a call of one of the session's functions.

    Attributes:
        name: the function's name.
        arguments: the arguments, a compact JSON object.
    """

    name: str
    arguments: str


Reply: TypeAlias = Say | CallFunction

GREETING: Final = "Hello! How can I help you today?"
ANYTHING_ELSE: Final = "Is there anything else I can help you with?"
NOT_CAUGHT: Final = "Sorry, I did not catch that."
IMAGE_ONLY: Final = "I see an image, but I cannot describe images."

_WORD: Final = re.compile(r"[a-z0-9']+")
_SAY: Final = re.compile(r"\bsay\s*:?\s*[\"'\u201c\u2018](.+?)[\"'\u201d\u2019]", re.I | re.S)
_PLACE_STOP: Final = frozenset(
    ("today", "tomorrow", "tonight", "now", "please", "right", "currently", "this", "these",
     "and", "then", "in", "at", "on", "for", "with", "is", "are", "was", "will")
)  # fmt: skip
_PLACE: Final = re.compile(r"\b(?:in|at)\s+([a-z][a-z' ]*)")

PHRASES: Final[tuple[tuple[re.Pattern[str], str], ...]] = (
    (re.compile(r"\b(?:hello|hi|hey|good (?:morning|afternoon|evening))\b"), GREETING),
    (re.compile(r"\bhow are you\b"), "I am fine, thank you. How can I help you?"),
    (re.compile(r"\bweather\b"), "It is sunny and 21 degrees{in_place}."),
    (re.compile(r"\b(?:what time|the time|time is it)\b"), "It is twelve o'clock."),
    (re.compile(r"\b(?:thank you|thanks)\b"), "You are welcome."),
    (re.compile(r"\b(?:goodbye|bye)\b"), "Goodbye!"),
    (re.compile(r"\b(?:your name|who are you)\b"), "I am the rtsession local server."),
)
"""The phrase table: (pattern over the normalized words, reply). ``{in_place}`` becomes
``" in Place"`` when the text names a place after "in" or "at" (see ``place_in``), else
nothing."""


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def place_in(text: str) -> str | None:
    """The place a text names: up to three words after "in" or "at", stopping at words such as
    "today" or "please", title-cased ("weather in new york today" gives "New York")."""
    match = _PLACE.search(" ".join(_words(text)))
    if match is None:
        return None
    words: list[str] = []
    for word in match.group(1).split():
        if word in _PLACE_STOP or len(words) == 3:
            break
        words.append(word)
    return " ".join(w.capitalize() for w in words) or None


# --- tools -------------------------------------------------------------------------------------

_GENERIC_NAME_WORDS: Final = frozenset(
    ("get", "set", "fetch", "find", "lookup", "look", "check", "call", "function", "tool", "do",
     "make", "run", "the", "and", "for", "with", "current", "my", "info", "data")
)  # fmt: skip
_NAME_PARTS: Final = re.compile(r"[A-Z]?[a-z]+|[0-9]+|[A-Z]+(?![a-z])")


def _keywords(name: str) -> list[str]:
    """The significant words of a tool name: ``get_current_weather`` gives ``["weather"]``."""
    words = [w.lower() for w in _NAME_PARTS.findall(name)]
    return [w for w in words if len(w) >= 3 and w not in _GENERIC_NAME_WORDS]


def _score(tool: m.FunctionTool, words: set[str]) -> int:
    return sum(1 for k in _keywords(tool.name) if k in words or f"{k}s" in words)


def choose_tool(
    text: str, tools: Sequence[m.Tool], tool_choice: m.ToolChoice | None
) -> m.FunctionTool | None:
    """The function a user text calls, or ``None``.

    A function matches when a significant word of its name (split at ``_``, ``-`` and
    camelCase; words of three letters or more other than "get", "set", "current", ...) is a
    word of the text, or that word plus "s". The best score (most matching words) wins; ties
    go to the first in session order. ``tool_choice`` ``"none"`` calls nothing; ``"required"``
    falls back to the first function; ``{"type": "function", "name": ...}`` always calls that
    function. MCP tools are never called.
    """
    functions = [t for t in tools if isinstance(t, m.FunctionTool)]
    if not functions or tool_choice == "none":
        return None
    if isinstance(tool_choice, m.ToolChoiceFunction):
        return next((t for t in functions if t.name == tool_choice.name), None)
    words = set(_words(text))
    best = max(functions, key=lambda t: _score(t, words))
    if _score(best, words) > 0:
        return best
    return functions[0] if tool_choice == "required" else None


_LOCATION_PARAMS: Final = frozenset(
    ("location", "city", "place", "town", "country", "region", "destination", "where", "address")
)
_TEXT_PARAMS: Final = frozenset(
    ("query", "text", "question", "message", "prompt", "input", "q", "search")
)
_ONES: Final = {
    w: i
    for i, w in enumerate(
        ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
         "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
         "eighteen", "nineteen")
    )
}  # fmt: skip
_TENS: Final = {
    w: 10 * i
    for i, w in enumerate(
        ("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"), 2
    )
}
_NUMBER_TOKEN: Final = re.compile(r"-?\d+(?:\.\d+)?|[a-z']+")


def _first_number(text: str) -> int | float | None:
    """The first number in a text, in digits ("21", "7.5") or words ("twenty one")."""
    tokens = _NUMBER_TOKEN.findall(text.lower())
    for i, token in enumerate(tokens):
        if token[-1].isdigit():
            value = float(token)
            return int(value) if value.is_integer() else value
        if token in _TENS:
            following = _ONES.get(tokens[i + 1], 0) if i + 1 < len(tokens) else 0
            return _TENS[token] + (following if following < 10 else 0)
        if token in _ONES:
            return _ONES[token]
    return None


def _schema_type(schema: Mapping[str, Any]) -> str | None:
    """The JSON type a schema gives, lower-case: JSON Schema's (``"string"``, or a list with
    ``"null"``) and Gemini's own ``Schema`` (``"STRING"``, as google-genai writes it) alike."""
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if str(k).lower() != "null"), None)
    return kind.lower() if isinstance(kind, str) else None


def _argument(name: str, schema: Mapping[str, Any], text: str) -> Any:
    enum = schema.get("enum")
    if isinstance(enum, list):
        spoken = f" {' '.join(_words(text))} "
        return next((v for v in enum if f" {' '.join(_words(str(v)))} " in spoken), None)
    kind = _schema_type(schema)
    key = name.lower()
    if kind == "string":
        if key in _LOCATION_PARAMS or key.endswith(("location", "city")):
            return place_in(text)
        if key in _TEXT_PARAMS:
            return text.strip().rstrip(".?!")
        return None
    if kind in ("integer", "number"):
        number = _first_number(text)
        if kind == "integer" and isinstance(number, float):
            return int(number)
        return number
    return None


_PLACEHOLDERS: Final[dict[str | None, Any]] = {
    "string": "", "integer": 0, "number": 0, "boolean": False, "array": [], "object": {},
}  # fmt: skip


def function_arguments(tool: m.FunctionTool, text: str) -> str:
    """The JSON arguments of a call of ``tool`` drawn from a user text.

    Each property of the tool's ``parameters`` schema, in schema order:

    - with an ``enum``: the first value the text says, else left out;
    - a string named ``location``, ``city``, ``place``, ``town``, ``country``, ``region``,
      ``destination``, ``where``, ``address`` or ending in ``location`` / ``city``: the place
      after "in" or "at" (``place_in``);
    - a string named ``query``, ``text``, ``question``, ``message``, ``prompt``, ``input``,
      ``q`` or ``search``: the whole text;
    - an integer or number: the first number in the text, in digits or words;
    - anything else: left out.

    A required property left out gets ``""``, ``0``, ``false``, ``[]`` or ``{}`` by its type.

    Returns:
        A compact JSON object, e.g. ``{"location":"Paris"}``.
    """
    parameters = tool.parameters or {}
    properties = parameters.get("properties")
    required = parameters.get("required")
    required_names = set(required) if isinstance(required, list) else set()
    arguments: dict[str, Any] = {}
    if isinstance(properties, dict):
        for name, schema in properties.items():
            if not isinstance(schema, dict):
                continue
            value = _argument(name, schema, text)
            if value is None and name in required_names:
                value = _PLACEHOLDERS.get(_schema_type(schema))
            if value is not None:
                arguments[name] = value
    return json.dumps(arguments, separators=(",", ":"), ensure_ascii=False)


# --- answers to function outputs -------------------------------------------------------------

_TEMPERATURE_KEYS: Final = (
    "temperature", "temp", "degrees", "temperature_c", "temperature_celsius", "temperature_f",
    "temperature_fahrenheit",
)  # fmt: skip
_CONDITION_KEYS: Final = (
    "condition", "conditions", "weather", "description", "summary", "sky", "forecast",
)  # fmt: skip
_PLACE_KEYS: Final = ("location", "city", "place", "town")


def _spoken(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _first_key(data: Mapping[str, Any], keys: Sequence[str]) -> Any:
    return next((data[k] for k in keys if data.get(k) not in (None, "")), None)


def answer_from_output(output: str, call: m.FunctionCallItem | None) -> str:
    """The sentence that answers a function's output.

    - A JSON object with a temperature (``temperature``, ``temp``, ``degrees``, ...): "It is
      CONDITION and T degrees in PLACE." -- the condition from ``condition`` / ``weather`` /
      ``description`` / ..., the place from ``location`` / ``city`` in the output or in the
      call's arguments; missing parts are left out. ``{"temperature": 21, "condition":
      "sunny"}`` for a call with ``{"location": "Paris"}`` gives "It is sunny and 21 degrees
      in Paris."
    - Another object with one key: "The KEY is VALUE." (``_`` in the key read as spaces).
    - Another object: "Here is the result of NAME: K1 is V1, K2 is V2."
    - Anything else (a JSON list or scalar, or text that is not JSON): "The result of NAME
      is OUTPUT."
    """
    name = call.name if call is not None else "the function"
    try:
        data = json.loads(output)
    except ValueError:
        data = output
    if not isinstance(data, dict):
        return f"The result of {name} is {_spoken(data)}."
    temperature = _first_key(data, _TEMPERATURE_KEYS)
    if temperature is not None:
        place = _first_key(data, _PLACE_KEYS)
        if place is None and call is not None:
            try:
                arguments = json.loads(call.arguments)
            except ValueError:
                arguments = None
            if isinstance(arguments, dict):
                place = _first_key(arguments, _PLACE_KEYS)
        condition = _first_key(data, _CONDITION_KEYS)
        sentence = "It is"
        if condition is not None:
            sentence += f" {_spoken(condition)} and"
        sentence += f" {_spoken(temperature)} degrees"
        if place is not None:
            sentence += f" in {_spoken(place)}"
        return sentence + "."
    if len(data) == 1:
        key, value = next(iter(data.items()))
        return f"The {key.replace('_', ' ')} is {_spoken(value)}."
    pairs = ", ".join(f"{k.replace('_', ' ')} is {_spoken(v)}" for k, v in data.items())
    return f"Here is the result of {name}: {pairs}." if pairs else f"{name} returned nothing."


# --- the decision ------------------------------------------------------------------------------


def user_text(entry: Entry) -> str:
    """What a user message says: its text parts and audio transcripts, joined by spaces."""
    if not isinstance(entry.item, m.MessageItem):
        return ""
    texts: list[str] = []
    for part in entry.item.content:
        if isinstance(part, m.InputText):
            texts.append(part.text)
        elif isinstance(part, m.InputAudio):
            texts.append(part.transcript if part.transcript is not None else entry.transcript or "")
    return " ".join(t.strip() for t in texts if t.strip())


def _reply_to_user(
    entry: Entry, tools: Sequence[m.Tool], tool_choice: m.ToolChoice | None
) -> Reply:
    text = user_text(entry)
    tool = choose_tool(text, tools, tool_choice)
    if tool is not None:
        return CallFunction(tool.name, function_arguments(tool, text))
    if not text:
        has_image = isinstance(entry.item, m.MessageItem) and any(
            isinstance(p, m.InputImage) for p in entry.item.content
        )
        return Say(IMAGE_ONLY if has_image else NOT_CAUGHT)
    normalized = " ".join(_words(text))
    for pattern, template in PHRASES:
        if pattern.search(normalized):
            place = place_in(text)
            return Say(template.format(in_place=f" in {place}" if place else ""))
    return Say(f"You said: {text.rstrip('.?!')}.")


def decide_reply(
    context: Sequence[Entry],
    *,
    instructions: str | None,
    tools: Sequence[m.Tool],
    tool_choice: m.ToolChoice | None,
) -> Reply:
    """Apply the rules of this module to a response's context.

    Args:
        context: the items the response reads, first to last (transcriptions finished).
        instructions: the response's instructions.
        tools: the tools it may call.
        tool_choice: how it may call them.
    """
    said = _SAY.search(instructions or "")
    if said is not None:
        return Say(said.group(1).strip())
    relevant = [
        e for e in context if not (isinstance(e.item, m.MessageItem) and e.item.role == "system")
    ]
    if not relevant:
        return Say(GREETING)
    last = relevant[-1]
    item = last.item
    if isinstance(item, m.FunctionCallOutputItem):
        calls = [
            e.item
            for e in context
            if isinstance(e.item, m.FunctionCallItem) and e.item.call_id == item.call_id
        ]
        return Say(answer_from_output(item.output, calls[-1] if calls else None))
    if isinstance(item, m.FunctionCallItem):
        return Say(f"I am waiting for the result of {item.name}.")
    if isinstance(item, m.MessageItem) and item.role == "user":
        return _reply_to_user(last, tools, tool_choice)
    return Say(ANYTHING_ELSE)
