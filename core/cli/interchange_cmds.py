"""`import`, `import-dataset` and `accept-predictions`: labels in from other tools and models.

`import` always shows its preview (per video: added, changed, skipped; then every problem with
its file and line) and writes only when nothing is an error, in one transaction.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from core.cli.common import find_video
from core.errors import ImportFormatError, StoreError
from core.interchange import ImportOptions, Overlap, commit_import, plan_import
from core.interchange.dataset import import_dataset
from core.interchange.formats import FORMATS, format_for
from core.labels.audit import logged
from core.store import Store


def register(sub: argparse._SubParsersAction) -> None:
    imp = sub.add_parser("import", help="import labels from another tool (preview, then all or nothing)")
    imp.add_argument("--format", required=True, choices=list(FORMATS))
    imp.add_argument("files", nargs="+", metavar="FILE")
    imp.add_argument(
        "--map-classes",
        nargs="+",
        default=[],
        metavar="OLD=NEW",
        help="rename the file's classes on the way in",
    )
    imp.add_argument("--create-classes", action="store_true", help="create classes the project lacks")
    imp.add_argument("--overlap", choices=[o.value for o in Overlap], default=Overlap.REJECT.value)
    imp.add_argument("--dry-run", action="store_true", help="show what would happen; write nothing")
    imp.set_defaults(handler=import_cmd)

    dataset = sub.add_parser("import-dataset", help="import a folder-per-class dataset (root/<class>/<clip>)")
    dataset.add_argument("root")
    dataset.add_argument("--dry-run", action="store_true")
    dataset.set_defaults(handler=import_dataset_cmd)

    accept = sub.add_parser("accept-predictions", help="turn predicted events into accepted labels")
    accept.add_argument("video", nargs="?", help="path or id")
    accept.add_argument("--all", action="store_true", help="every video with predictions")
    accept.add_argument("--fill-unlabelled-only", action="store_true", help="never overwrite existing labels")
    accept.add_argument("--model", type=int, help="model version id (default: the active one)")
    accept.add_argument("--track", help="the track whose head's events to accept (default: the first)")
    accept.set_defaults(handler=accept_cmd)


def parse_class_map(items: list[str]) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for item in items:
        old, sep, new = item.partition("=")
        if not sep or not old.strip() or not new.strip():
            raise ImportFormatError(f"--map-classes takes OLD=NEW pairs; {item!r} is not one.")
        mapping[old] = new
    return mapping


def import_cmd(args: argparse.Namespace, store: Store) -> int:
    options = ImportOptions(
        class_map=parse_class_map(args.map_classes),
        create_classes=args.create_classes,
        overlap=Overlap(args.overlap),
    )
    plan = plan_import(store, [Path(f) for f in args.files], format_for(args.format), options)
    for video_plan in plan.videos:
        print(video_plan.summary())
    if plan.new_classes:
        print(f"new classes: {', '.join(plan.new_classes)}")
    for line in plan.problem_lines():
        print(line)
    if not plan.can_commit:
        count = plan.error_count
        raise ImportFormatError(
            f"{count:,} problem{'s' if count > 1 else ''} found (listed above); nothing was imported."
        )
    if args.dry_run:
        print(f"dry run: would import {plan.added} segments; nothing was written")
        return 0
    print(commit_import(store, plan, args.annotator).summary())
    return 0


def import_dataset_cmd(args: argparse.Namespace, store: Store) -> int:
    result = import_dataset(store, Path(args.root), dry_run=args.dry_run, annotator=args.annotator)
    if args.dry_run:
        print(f"dry run: would import {result.clips} clips of classes {', '.join(result.classes)}")
    else:
        print(result.summary())
    return 0


def accept_cmd(args: argparse.Namespace, store: Store) -> int:
    from core.analysis.predictions import load_predictions, saved_events
    from core.labels.accept import accept_events

    if args.all == (args.video is not None):
        raise StoreError("Name one video, or give --all for every video with predictions.")
    videos = store.videos.list() if args.all else [find_video(store, args.video)]
    track = store.tracks.resolve(getattr(args, "track", None))
    accepted = 0
    for video in videos:
        preds = load_predictions(store, video, args.model, track=track.name)
        if preds is None:
            if not args.all:
                raise StoreError(f"{video.path} has no predictions from that model: run 'infer' first.")
            continue
        events = saved_events(store, preds)
        before = store.segments.labelled_frames(video.id, track.id)
        text = "Fill unlabelled from predictions" if args.fill_unlabelled_only else "Accept predictions"
        with logged(store, args.annotator, text, [video.id]):  # one video's events: all or none
            accept_events(
                store,
                video.id,
                events,
                preds.class_names,
                fill_unlabelled_only=args.fill_unlabelled_only,
                track_id=track.id,
            )
        after = store.segments.labelled_frames(video.id, track.id)
        note = " (UNTRAINED model)" if preds.untrained else ""
        print(
            f"{video.path}: accepted {len(events)} predicted events, "
            f"{after - before:+d} labelled frames{note}"
        )
        accepted += 1
    if accepted == 0:
        raise StoreError("No video has predictions from that model: run 'infer' first.")
    return 0
