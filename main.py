"""C3D Labeller's composition root: parse arguments, set up logging, open the store, then run
a command or the desktop app."""

from __future__ import annotations

import logging
import os
import sys

# FFmpeg and OpenCV log to stderr from C; a damaged video already gets one clear line from us.
os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

from core.cli import build_parser, run_command
from core.errors import AppError
from core.paths import resolve_db_url
from core.project import open_project
from core.store.unit import set_busy_reporter

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
    set_busy_reporter(lambda message: print(message, file=sys.stderr, flush=True))
    try:
        project = open_project(url, args.annotator)  # the app's path too: units of work, then events
        if project.store.notice:
            print(f"note: {project.store.notice}", file=sys.stderr)
        try:
            return run_command(args, project.store)
        finally:
            project.close()
    except AppError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
