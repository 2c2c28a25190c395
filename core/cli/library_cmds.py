"""`videos`, `classes` and `segments`: inspect and edit the store without the GUI."""

from __future__ import annotations

import argparse
from pathlib import Path

from core.cli.common import find_video, frame_number
from core.errors import StoreError, VideoError
from core.labels import class_edits
from core.labels.audit import logged
from core.media.library import add_video, expand_video_paths
from core.store import Store
from core.store.records import NewSegment, SegmentSource


def register(sub: argparse._SubParsersAction) -> None:
    videos = sub.add_parser("videos", help="list or add videos").add_subparsers(dest="action", required=True)
    videos.add_parser("list").set_defaults(handler=videos_list)
    vadd = videos.add_parser("add", help="add files, folders or globs")
    vadd.add_argument("paths", nargs="+", metavar="PATH")
    vadd.set_defaults(handler=videos_add)

    classes = sub.add_parser("classes", help="list, add or remove label classes")
    cls_sub = classes.add_subparsers(dest="action", required=True)
    clist = cls_sub.add_parser("list")
    clist.add_argument("--track", metavar="T", help="only this track's classes")
    clist.set_defaults(handler=classes_list)
    cadd = cls_sub.add_parser("add")
    cadd.add_argument("names", nargs="+", metavar="NAME")
    cadd.add_argument("--track", metavar="T", help="the track to add to (default: the first track)")
    cadd.add_argument("--modifier", action="append", default=[], metavar="M", help="a value labels may carry")
    cadd.set_defaults(handler=classes_add)
    crm = cls_sub.add_parser("remove", help="remove classes (their segments are deleted)")
    crm.add_argument("names", nargs="+", metavar="NAME")
    crm.add_argument("--track", metavar="T")
    crm.set_defaults(handler=classes_remove)

    segs = sub.add_parser("segments", help="list, add or remove labelled segments")
    seg_sub = segs.add_subparsers(dest="action", required=True)
    sadd = seg_sub.add_parser("add", help="label frames [START, END) of VIDEO (path or id) as CLASS")
    sadd.add_argument("video")
    sadd.add_argument("start", type=frame_number)
    sadd.add_argument("end", type=frame_number)
    sadd.add_argument("class_name", metavar="CLASS")
    sadd.add_argument("--track", metavar="T", help="the class's track (default: the first track)")
    sadd.add_argument("--modifier", action="append", default=[], metavar="M")
    sadd.add_argument("--comment", metavar="TEXT")
    sadd.set_defaults(handler=segments_add)
    slist = seg_sub.add_parser("list")
    slist.add_argument("video", nargs="?")
    slist.add_argument("--track", metavar="T", help="only this track's segments")
    slist.set_defaults(handler=segments_list)
    srm = seg_sub.add_parser("remove")
    srm.add_argument("ids", nargs="+", type=int, metavar="ID")
    srm.set_defaults(handler=segments_remove)


def videos_list(args: argparse.Namespace, store: Store) -> int:
    for v in store.videos.list():
        frames = f"{v.frame_count} frames" if v.frame_count is not None else f"~{v.header_frame_count} frames"
        missing = "" if Path(v.path).exists() else "  [MISSING]"
        print(f"{v.id}\t{v.path}\t{v.width}x{v.height}\t{v.fps:.3f} fps\t{frames}{missing}")
    return 0


def videos_add(args: argparse.Namespace, store: Store) -> int:
    """Every good file is added even when others are bad; the bad ones are listed with why."""
    paths = expand_video_paths(args.paths)
    failed = 0
    for path in paths:
        try:
            video = add_video(store, path)
        except VideoError as exc:
            failed += 1
            print(f"not added\t{path}\t{exc}")
            continue
        print(f"added {video.id}\t{video.path}")
    if failed:
        raise VideoError(
            f"{failed} of {len(paths)} file{'s' if len(paths) > 1 else ''} could not be added "
            "(listed above with the reason); the others were added."
        )
    return 0


def _several_tracks(store: Store) -> dict[int, str] | None:
    """Track names by id when the project has more than one (then listings name the track)."""
    tracks = store.tracks.list()
    return {t.id: t.name for t in tracks} if len(tracks) > 1 else None


def classes_list(args: argparse.Namespace, store: Store) -> int:
    names = _several_tracks(store)
    if args.track is not None or names is None:
        classes = store.classes.list(store.tracks.resolve(args.track).id)
    else:
        classes = store.classes.list_all()
    for c in classes:
        extra = "" if names is None else f"\t{names[c.track_id]}\t{','.join(c.modifiers)}"
        print(f"{c.id}\t{c.name}\t{c.color}\t{c.shortcut or ''}{extra}")
    return 0


def classes_add(args: argparse.Namespace, store: Store) -> int:
    track = store.tracks.resolve(args.track)
    for name in args.names:
        class_edits.add_class(store, name, track_id=track.id, modifiers=args.modifier)
        c = store.classes.by_name(name, track.id)
        if c is not None:
            print(f"added class {c.id}\t{c.name}")
    return 0


def classes_remove(args: argparse.Namespace, store: Store) -> int:
    track = store.tracks.resolve(args.track)
    for name in args.names:
        c = store.classes.by_name(name, track.id)
        if c is None:
            raise StoreError(f"No class named {name!r}: use 'classes list'.")
        with logged(store, args.annotator, f"Delete class {c.name}"):
            store.classes.remove(c.id)
        print(f"removed class {c.name}")
    return 0


def segments_add(args: argparse.Namespace, store: Store) -> int:
    video = find_video(store, args.video)
    track = store.tracks.resolve(args.track)
    cls = store.classes.by_name(args.class_name, track.id)
    if cls is None:
        where = "" if args.track is None else f" --track {track.name}"
        raise StoreError(
            f"No class named {args.class_name!r} in track '{track.name}': "
            f"add it with 'classes add {args.class_name}{where}'."
        )
    label = NewSegment(cls.id, args.start, args.end, SegmentSource.HUMAN, tuple(args.modifier), args.comment)
    with logged(store, args.annotator, "Label frames", [video.id]):
        seg = store.segments.add(video.id, label)
    print(f"added segment {seg.id}\t{video.id}\t{seg.class_name}\t[{seg.start_frame}, {seg.end_frame})")
    return 0


def segments_list(args: argparse.Namespace, store: Store) -> int:
    videos = [find_video(store, args.video)] if args.video else store.videos.list()
    names = _several_tracks(store)
    track_id = None if args.track is None else store.tracks.resolve(args.track).id
    for video in videos:
        if names is None or track_id is not None:
            segs = store.segments.list(video.id, track_id=track_id)
        else:
            segs = store.segments.list(video.id, all_tracks=True)
        for s in segs:
            extra = "" if names is None else f"\t{names[s.track_id]}"
            if s.modifiers or s.comment:
                extra += f"\t{'|'.join(s.modifiers)}\t{s.comment or ''}"
            print(
                f"{s.id}\t{video.id}\t{s.class_name}\t{s.start_frame}\t{s.end_frame}\t{s.source.value}{extra}"
            )
    return 0


def segments_remove(args: argparse.Namespace, store: Store) -> int:
    for seg_id in args.ids:
        seg = store.segments.get(seg_id)
        with logged(store, args.annotator, "Delete label", [seg.video_id]):
            store.segments.remove(seg_id)
        print(f"removed segment {seg_id}")
    return 0
