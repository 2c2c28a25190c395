"""The command line: inspect and edit the store, analyse videos, export — all without a display.

Each command module registers its own subcommands; every command prints what it did on stdout,
progress on stderr, and raises ``AppError`` for user errors, which ``main.py`` turns into one
line on stderr and a non-zero exit.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from core.cli import (
    export_cmd,
    infer_cmd,
    interchange_cmds,
    learning_cmds,
    library_cmds,
    models_cmd,
    proxy_cmd,
    team_cmds,
    tracks_cmd,
)
from core.store import Store

Handler = Callable[[argparse.Namespace, Store], int]

COMMAND_MODULES = (
    infer_cmd,
    library_cmds,
    tracks_cmd,
    export_cmd,
    models_cmd,
    interchange_cmds,
    learning_cmds,
    proxy_cmd,
    team_cmds,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="c3d-labeller", description="Label events in video with C3D_BN.")
    parser.add_argument(
        "--db", help="SQLAlchemy URL of the store (default: $C3D_LABELLER_DB, else a local file)"
    )
    parser.add_argument(
        "--annotator",
        help="who signs your edits in a shared store (default: $C3D_LABELLER_ANNOTATOR, else your login)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def run_command(args: argparse.Namespace, store: Store) -> int:
    handler: Handler = args.handler
    return handler(args, store)
