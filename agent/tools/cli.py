"""The shared entry point of the `python -m agent.tools.<tool>` commands."""
from __future__ import annotations

import sys
from collections.abc import Callable

import tyro

from agent.host.checkpoint import CheckpointError


def run(args_type: type, main: Callable) -> None:
    """Parses `args_type` with tyro and calls `main(args)`; a user's mistake (a wrong
    run folder, an unknown value name) exits with status 2 and one line, not a traceback."""
    try:
        main(tyro.cli(args_type))
    except (ValueError, FileNotFoundError, CheckpointError) as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2)
