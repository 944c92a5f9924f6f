"""Every public package says what it exports (``__all__``), and exports only what it says: the
API reference of the docs site is generated from these lists."""

from __future__ import annotations

import importlib
import pickle
import re
import types
import typing
from pathlib import Path

import pytest

PACKAGES = [
    "rtsession",
    "rtsession.audio",
    "rtsession.local",
    "rtsession.messages",
    "rtsession.middleware",
    "rtsession.providers",
    "rtsession.session",
    "rtsession.telephony",
    "rtsession.testing",
    "rtsession.transport",
    "rtsession.wire",
    "rtsession.wire.gemini",
    "rtsession.wire.openai",
    "rtsession.web",
    "rtsession.wire.openai_beta",
]


@pytest.mark.parametrize("name", PACKAGES)
def test_a_package_exports_what_its_all_lists(name: str) -> None:
    package = importlib.import_module(name)
    listed = set(package.__all__)
    public = {
        attribute
        for attribute in dir(package)
        if not attribute.startswith("_")
        and not isinstance(getattr(package, attribute), types.ModuleType)
    }
    assert public == listed - {
        n for n in listed if isinstance(getattr(package, n), types.ModuleType)
    }
    assert all(hasattr(package, n) for n in listed)


def test_each_public_name_has_one_home() -> None:
    """A name is exported by one subpackage; the top-level ``rtsession`` re-exports the common
    path for convenience."""
    homes: dict[int, list[str]] = {}
    for name in PACKAGES[1:]:
        package = importlib.import_module(name)
        for attribute in package.__all__:
            value = getattr(package, attribute)
            if isinstance(value, type) or callable(value):
                homes.setdefault(id(value), []).append(f"{name}.{attribute}")
    assert [places for places in homes.values() if len(places) > 1] == []


def test_objects_only_the_library_makes_cannot_be_built() -> None:
    from rtsession import Session
    from rtsession.middleware import StageContext

    for cls in (Session, StageContext):
        with pytest.raises(TypeError, match=f"{cls.__name__} has no public constructor"):
            cls()


def _defined_here(package: str) -> list[tuple[str, object]]:
    module = importlib.import_module(package)
    return [
        (attribute, value)
        for attribute in module.__all__
        if callable(value := getattr(module, attribute))
        and str(getattr(value, "__module__", "")).startswith("rtsession")
    ]


@pytest.mark.parametrize("name", PACKAGES[1:])
def test_public_names_report_their_public_module(name: str) -> None:
    """``rtsession.session.Conversation``, not ``rtsession.session._conversation...``; a name
    the top-level package re-exports reports ``rtsession`` (``rtsession.Session``)."""
    import rtsession

    top = set(rtsession.__all__)
    for attribute, value in _defined_here(name):
        if getattr(rtsession, attribute, None) is value and attribute in top:
            expected = "rtsession"
        else:
            expected = name
        assert (attribute, value.__module__) == (attribute, expected)  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", PACKAGES)
def test_type_hints_of_public_classes_resolve(name: str) -> None:
    """attrs and cattrs resolve annotations through ``sys.modules[cls.__module__]``: they
    must still resolve once the class reports its public module."""
    for _, value in _defined_here(name):
        if isinstance(value, type):
            typing.get_type_hints(value)


def test_the_public_module_is_the_home_pickle_finds() -> None:
    from rtsession import messages as m

    options = m.SessionOptions(voice="marin", tools=(m.FunctionTool(name="f"),))
    assert pickle.loads(pickle.dumps(options)) == options
    assert repr(m.SessionOptions).startswith("<class 'rtsession.SessionOptions'")
    assert m.InputAudioBufferAppend.__module__ == "rtsession.messages"


def test_docstrings_cite_what_ships() -> None:
    """The team's reference notes do not ship with the project: the source cites its own
    docs, event names and public URLs instead."""
    notes = re.compile(r"\b(openai-realtime|gemini-live|trio-style|meai-realtime|peers)\.md\b")
    source = Path(__file__).parents[1] / "src" / "rtsession"
    cited = [
        f"{path.relative_to(source)}:{number}"
        for path in sorted(source.rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if notes.search(line)
    ]
    assert cited == []
