"""C3D Labeller's composition root: parse arguments, set up logging, open the store, then run
a command or the desktop app."""

from __future__ import annotations

import logging
import sys

from core.cli import build_parser, run_command
from core.errors import AppError
from core.paths import resolve_db_url
from core.project import open_project

log = logging.getLogger("c3d_labeller")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    url = resolve_db_url(args.db)
    if args.command is None:
        from gui.app import run_app  # Qt is imported only when the desktop app starts

        return run_app(url, args.annotator)
    try:
        project = open_project(url, args.annotator)  # the app's path too: units of work, then events
        try:
            return run_command(args, project.store)
        finally:
            project.close()
    except AppError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
