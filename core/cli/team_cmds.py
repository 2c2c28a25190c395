"""Team mode on the command line: `log` (who changed what, and restoring it) and `claim`
(the work queue). Edits are signed with ``--annotator`` (or ``$C3D_LABELLER_ANNOTATOR``)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from core.cli.common import find_video
from core.errors import StoreError
from core.project import Project, actions
from core.store import Store
from core.store.records import NewSegment
from core.store.work import WorkState


def register(sub: argparse._SubParsersAction) -> None:
    log = sub.add_parser(
        "log", help="a video's edit log (who changed what); `log restore ID` puts an entry's frames back"
    )
    log.add_argument("target", nargs="+", metavar="VIDEO | restore ID")
    log.set_defaults(handler=log_cmd)

    claim = sub.add_parser("claim", help="the work queue: take the next video, mark one done, list them")
    claim_sub = claim.add_subparsers(dest="action", required=True)
    take = claim_sub.add_parser("next", help="claim the next video nobody has claimed")
    take.set_defaults(handler=claim_next)
    done = claim_sub.add_parser("done", help="mark VIDEO labelled (or --reviewed)")
    done.add_argument("video")
    done.add_argument("--reviewed", action="store_true")
    done.set_defaults(handler=claim_done)
    claim_sub.add_parser("list", help="every video's state and who has it").set_defaults(handler=claim_list)

    copy = sub.add_parser("copy-store", help="copy this whole project into a new store (e.g. PostgreSQL)")
    copy.add_argument("--to", required=True, metavar="URL", help="the new store, e.g. postgresql://host/db")
    copy.set_defaults(handler=copy_store_cmd)

    coding = sub.add_parser("coding", help="independent codings of a video, for `evaluate --agreement`")
    coding_sub = coding.add_subparsers(dest="action", required=True)
    csave = coding_sub.add_parser("save", help="keep VIDEO's labels as your coding")
    csave.add_argument("video")
    csave.add_argument("--clear", action="store_true", help="then unlabel VIDEO for the next coder")
    csave.set_defaults(handler=coding_save)
    clist = coding_sub.add_parser("list", help="who has coded VIDEO")
    clist.add_argument("video")
    clist.set_defaults(handler=coding_list)
    cuse = coding_sub.add_parser("use", help="make CODER's coding VIDEO's labels (the reference)")
    cuse.add_argument("video")
    cuse.add_argument("coder")
    cuse.set_defaults(handler=coding_use)


def _project(args: argparse.Namespace, store: Store) -> Project:
    return Project(store, getattr(args, "annotator", None))


def log_cmd(args: argparse.Namespace, store: Store) -> int:
    target: list[str] = args.target
    if target[0] == "restore":
        if len(target) != 2 or not target[1].isdigit():
            raise StoreError("Use `log restore ID` with the number `log VIDEO` shows in its first column.")
        project = _project(args, store)
        entry = store.edit_log.get(int(target[1]))
        change = actions.restore_logged(project, entry.id)
        state = "restored" if change is not None else "already as it was"
        print(f"{state}: frames {entry.start_frame}–{entry.end_frame} of video {entry.video_id}")
        return 0
    if len(target) != 1:
        raise StoreError("Use `log VIDEO` (a path or id) or `log restore ID`.")
    video = find_video(store, target[0])
    names = {c.id: c.name for c in store.classes.list()}

    def describe(segments: Sequence[NewSegment]) -> str:
        parts = [f"{names.get(s.class_id, f'#{s.class_id}')} {s.start_frame}–{s.end_frame}" for s in segments]
        return ", ".join(parts) or "nothing"

    for e in store.edit_log.list(video.id):
        when = e.at.strftime("%Y-%m-%d %H:%M:%S")
        print(
            f"{e.id}\t{when}\t{e.annotator}\t{e.action}\t{e.start_frame}–{e.end_frame}\t"
            f"{describe(e.before)} → {describe(e.after)}"
        )
    return 0


def claim_next(args: argparse.Namespace, store: Store) -> int:
    project = _project(args, store)
    assignment = store.work.claim_next(project.annotator)
    if assignment is None:
        print("nothing left to label")
        return 0
    print(f"{assignment.video_id}\t{assignment.path}\tclaimed by {assignment.claimed_by}")
    return 0


def claim_done(args: argparse.Namespace, store: Store) -> int:
    project = _project(args, store)
    video = find_video(store, args.video)
    state = WorkState.REVIEWED if args.reviewed else WorkState.LABELLED
    store.work.set_state(video.id, state, project.annotator)
    print(f"{video.id}\t{state.value}")
    return 0


def claim_list(args: argparse.Namespace, store: Store) -> int:
    for a in store.work.list():
        print(f"{a.video_id}\t{a.state.value}\t{a.claimed_by or '-'}\t{a.path}")
    return 0


def coding_save(args: argparse.Namespace, store: Store) -> int:
    project = _project(args, store)
    video = find_video(store, args.video)
    actions.save_coding(project, video.id, args.clear)
    cleared = " and cleared the labels" if args.clear else ""
    print(f"saved {project.annotator}'s coding of video {video.id}{cleared}")
    return 0


def coding_list(args: argparse.Namespace, store: Store) -> int:
    video = find_video(store, args.video)
    for coder, segments in sorted(store.codings.list(video.id).items()):
        print(f"{coder}\t{len(segments)} segments")
    return 0


def coding_use(args: argparse.Namespace, store: Store) -> int:
    project = _project(args, store)
    video = find_video(store, args.video)
    actions.use_coding(project, video.id, args.coder)
    print(f"video {video.id} now holds {args.coder}'s coding")
    return 0


def agreement_report(store: Store, video_ref: str) -> int:
    from core.labels.agreement import report_lines_by_track, video_agreement

    video = find_video(store, video_ref)
    for line in report_lines_by_track(video_agreement(store, video.id)):
        print(line)
    return 0


def copy_store_cmd(args: argparse.Namespace, store: Store) -> int:
    from core.paths import resolve_db_url
    from core.store.copy import copy_store

    counts = copy_store(store, resolve_db_url(args.to))
    for table, rows in counts.items():
        print(f"{table}\t{rows}")
    return 0
