"""Every public package says what it exports (``__all__``), and exports only what it says: the
API reference of the docs site is generated from these lists."""

from __future__ import annotations

import importlib
import types

import pytest

PACKAGES = [
    "rtsession",
    "rtsession.audio",
    "rtsession.local",
    "rtsession.messages",
    "rtsession.middleware",
    "rtsession.providers",
    "rtsession.session",
    "rtsession.testing",
    "rtsession.transport",
    "rtsession.wire",
    "rtsession.wire.gemini",
    "rtsession.wire.openai",
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
