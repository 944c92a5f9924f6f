"""The ``rtsession`` command line (``rtsession = "rtsession.cli:main"``).

Subcommands live in their own modules and are listed in ``rtsession.cli._main.COMMANDS``:
``serve`` runs the local server (``rtsession.local``).
"""

from .._public import publish
from ._main import main as main

__all__ = ["main"]

publish(__name__, globals())
del publish
