"""`tracks`: list, add or remove the project's tracks (lanes that label at the same time)."""

from __future__ import annotations

import argparse

from core.cli.common import positive
from core.errors import TrainingError
from core.labels import track_edits
from core.labels.audit import logged
from core.learning.track_learning import train_tracks
from core.store import Store
from core.store.records import TrackKind


def register(sub: argparse._SubParsersAction) -> None:
    tracks = sub.add_parser("tracks", help="list, add or remove tracks (simultaneous label lanes)")
    t_sub = tracks.add_subparsers(dest="action", required=True)
    t_sub.add_parser("list").set_defaults(handler=tracks_list)
    tadd = t_sub.add_parser("add", help="add a state track, or a point track with --point")
    tadd.add_argument("name", metavar="NAME")
    tadd.add_argument("--point", action="store_true", help="events at one frame instead of ranges")
    tadd.add_argument("--subject", help="the animal or person this track describes")
    tadd.add_argument("--like", metavar="TRACK", help="share this track's classes (one ethogram per subject)")
    tadd.set_defaults(handler=tracks_add)
    trm = t_sub.add_parser("remove", help="remove a track with its classes and labels")
    trm.add_argument("name", metavar="NAME")
    trm.set_defaults(handler=tracks_remove)
    ttrain = t_sub.add_parser("train", help="fit every track's head on the analysed videos' cached features")
    ttrain.add_argument("--stride", type=positive, default=8)
    ttrain.set_defaults(handler=tracks_train)


def tracks_list(args: argparse.Namespace, store: Store) -> int:
    for t in store.tracks.list():
        classes = ",".join(c.name for c in store.classes.list(t.id))
        print(f"{t.id}\t{t.name}\t{t.kind.value}\t{t.subject or ''}\t{classes}")
    return 0


def tracks_add(args: argparse.Namespace, store: Store) -> int:
    like = None if args.like is None else store.tracks.resolve(args.like).id
    kind = TrackKind.POINT if args.point else TrackKind.STATE
    track_edits.add_track(store, args.name, kind, args.subject, like)
    track = store.tracks.resolve(args.name)
    print(f"added {track.kind.value} track {track.id}\t{track.name}")
    return 0


def tracks_remove(args: argparse.Namespace, store: Store) -> int:
    track = store.tracks.resolve(args.name)
    with logged(store, args.annotator, f"Delete track {track.name}"):
        store.tracks.remove(track.id)
    print(f"removed track {track.name}")
    return 0


def tracks_train(args: argparse.Namespace, store: Store) -> int:
    version = store.models.active()
    if version is None:
        raise TrainingError("There is no model yet: analyse a video first ('infer VIDEO').")
    result = train_tracks(store, version, stride=args.stride)
    for score in result.scores:
        measure = "event F1" if score.kind is TrackKind.POINT else "macro-F1"
        print(
            f"{score.track}\t{score.kind.value}\t{measure} {score.f1:.3f}\t{score.support} held-out windows"
        )
    print(f"trained {len(result.scores)} track heads on {result.windows} windows in {result.seconds:.2f} s")
    if result.version is not None:
        print(f"registered model version {result.version.id} ({result.version.name}), now active")
    return 0
