"""Tracks through interchange: BORIS subjects × categories and point events, EAF tiers, CSV
columns; each imports into tracks and exports back equal."""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from core.interchange import ImportOptions, commit_import, plan_import
from core.interchange.export import export_labels, project_labels
from core.interchange.formats import FORMATS
from core.store import Store, open_store
from core.store.records import NewSegment, TrackKind, Video
from tests.core.interchange_helpers import add_video, vfr_times

FRAMES, FPS = 120, 30.0
TIMES = vfr_times(FRAMES, FPS)


def t(frame: int) -> str:
    return f"{TIMES[frame]:.6f}"


BORIS_HEADER = (
    "Observation id\tSubject\tBehavior\tBehavioral category\tBehavior type\tStart (s)\tStop (s)\t"
    "Media file name\tModifiers\tComment start\n"
)
# Two subjects; m1's body and head overlap, m2 overlaps m1; point events with modifiers.
BORIS_ROWS = [
    ("m1", "walk", "body", "STATE", 0, 30, "fast", "starts slow"),
    ("m1", "rest", "body", "STATE", 30, 60, "", ""),
    ("m1", "sniff", "head", "STATE", 10, 40, "", ""),
    ("m2", "walk", "body", "STATE", 5, 50, "", ""),
    ("m1", "jump", "", "POINT", 20, 20, "left", ""),
    ("m2", "jump", "", "POINT", 25, 25, "right", ""),
    ("m2", "jump", "", "POINT", 26, 26, "left", ""),
]


def _boris_rows(path: Path) -> list[tuple[str, ...]]:
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    keys = (
        "Subject",
        "Behavior",
        "Behavioral category",
        "Behavior type",
        "Start (s)",
        "Stop (s)",
        "Modifiers",
    )
    return sorted((*(r[k] for k in keys), r.get("Comment start", "")) for r in rows)


def _import(store: Store, path: Path, fmt: str) -> None:
    plan = plan_import(store, [path], FORMATS[fmt], ImportOptions(create_classes=True))
    assert plan.errors == []
    commit_import(store, plan)


def _export(store: Store, video: Video, fmt: str, out: Path) -> Path:
    [written] = export_labels(project_labels(store, [video]), FORMATS[fmt], out)
    return written


def test_boris_subjects_groups_points_and_modifiers_round_trip(store: Store, tmp_path: Path) -> None:
    video = add_video(store, frames=FRAMES, fps=FPS)
    src = tmp_path / "boris.tsv"
    lines = [
        f"obs\t{s}\t{b}\t{c}\t{k}\t{t(a)}\t{t(e)}\t{Path(video.path).name}\t{m}\t{note}\n"
        for s, b, c, k, a, e, m, note in BORIS_ROWS
    ]
    src.write_text(BORIS_HEADER + "".join(lines), encoding="utf-8")
    _import(store, src, "boris")

    tracks = {tr.name: tr for tr in store.tracks.list()}
    assert {n: (tr.kind, tr.subject) for n, tr in tracks.items() if n != "behaviour"} == {
        "m1: body": (TrackKind.STATE, "m1"),
        "m1: head": (TrackKind.STATE, "m1"),
        "m2: body": (TrackKind.STATE, "m2"),
        "m1 events": (TrackKind.POINT, "m1"),
        "m2 events": (TrackKind.POINT, "m2"),
    }
    head = store.segments.list(video.id, track_id=tracks["m1: head"].id)
    assert [(s.class_name, s.start_frame, s.end_frame) for s in head] == [("sniff", 10, 40)]
    points = store.segments.list(video.id, track_id=tracks["m2 events"].id)
    assert [(s.start_frame, s.modifiers) for s in points] == [(25, ("right",)), (26, ("left",))]
    walk = store.segments.list(video.id, track_id=tracks["m1: body"].id)[0]
    assert (walk.modifiers, walk.comment) == (("fast",), "starts slow")

    out = _export(store, video, "boris", tmp_path / "back.tsv")
    assert _boris_rows(out) == _boris_rows(src)


def test_a_boris_project_file_imports_into_tracks(store: Store, tmp_path: Path) -> None:
    video = add_video(store, frames=FRAMES, fps=FPS)
    doc = {
        "behaviors_conf": {
            "0": {"code": "walk", "type": "State event", "category": "body"},
            "1": {"code": "sniff", "type": "State event", "category": "head"},
            "2": {"code": "jump", "type": "Point event", "category": ""},
        },
        "observations": {
            "obs": {
                "file": {"1": [video.path]},
                "events": [
                    [float(TIMES[0]), "m1", "walk", "fast", "", 0],
                    [float(TIMES[10]), "m1", "sniff", "", "", 10],
                    [float(TIMES[20]), "m2", "jump", "left", "", 20],
                    [float(TIMES[30]), "m1", "walk", "fast", "", 30],
                    [float(TIMES[40]), "m1", "sniff", "", "", 40],
                ],
            }
        },
    }
    src = tmp_path / "project.boris"
    src.write_text(json.dumps(doc), encoding="utf-8")
    _import(store, src, "boris")
    out = _export(store, video, "boris", tmp_path / "back.tsv")
    assert _boris_rows(out) == sorted(
        [
            ("m1", "sniff", "head", "STATE", t(10), t(40), "", ""),
            ("m1", "walk", "body", "STATE", t(0), t(30), "fast", ""),
            ("m2", "jump", "", "POINT", t(20), t(20), "left", ""),
        ]
    )


def test_a_boris_file_without_subjects_or_categories_stays_in_one_track(store: Store, tmp_path: Path) -> None:
    video = add_video(store, frames=FRAMES, fps=FPS)
    src = tmp_path / "plain.tsv"
    src.write_text(
        "Behavior\tBehavior type\tStart (s)\tStop (s)\tMedia file name\n"
        f"walk\tSTATE\t{t(0)}\t{t(10)}\t{Path(video.path).name}\n"
        f"peck\tPOINT\t{t(20)}\tNA\t{Path(video.path).name}\n",
        encoding="utf-8",
    )
    _import(store, src, "boris")
    assert [tr.name for tr in store.tracks.list()] == ["behaviour"]
    assert [(s.class_name, s.start_frame, s.end_frame) for s in store.segments.list(video.id)] == [
        ("walk", 0, 10),
        ("peck", 20, 21),
    ]


def _three_tracks(store: Store) -> Video:
    """Body and head (subject m1) overlap; a point track holds jumps."""
    video = add_video(store, frames=FRAMES, fps=FPS)
    head = store.tracks.add("head", subject="m1")
    jumps = store.tracks.add("jumps", TrackKind.POINT, subject="m1")
    walk, rest = store.classes.add("walk", modifiers=["fast"]), store.classes.add("rest")
    sniff = store.classes.add("sniff", track_id=head.id)
    jump = store.classes.add("jump", track_id=jumps.id)
    store.segments.paint(
        video.id,
        [
            NewSegment(walk.id, 0, 30, modifiers=("fast",), comment='a, "quoted" note'),
            NewSegment(rest.id, 30, 60),
            NewSegment(sniff.id, 10, 40),
            NewSegment(jump.id, 20, 21),
            NewSegment(jump.id, 21, 22),
        ],
    )
    return video


def _labels(store: Store, video: Video) -> list[tuple[str, str | None, str, str, int, int]]:
    tracks = {tr.id: tr for tr in store.tracks.list()}
    rows = []
    for s in store.segments.list(video.id, all_tracks=True):
        track = tracks[s.track_id]
        rows.append((track.name, track.subject, track.kind.value, s.class_name, s.start_frame, s.end_frame))
    return sorted(rows)


@pytest.mark.parametrize("fmt", ["eaf", "csv", "activitynet", "labelstudio"])
def test_three_tracks_survive_an_export_and_import(fmt: str, tmp_path: Path, db_url: str) -> None:
    with open_store(db_url) as first:
        video = _three_tracks(first)
        out = _export(first, video, fmt, tmp_path / f"clip{FORMATS[fmt].suffix}")
        expected = _labels(first, video)
    with open_store(f"sqlite:///{tmp_path / 'second.sqlite3'}") as second:
        again = add_video(second, frames=FRAMES, fps=FPS)
        _import(second, out, fmt)
        assert _labels(second, again) == expected
        carried = [(s.modifiers, s.comment) for s in second.segments.list(again.id) if s.modifiers]
        # ActivityNet has no place for modifiers or comments (its export says so)
        assert carried == ([] if fmt == "activitynet" else [(("fast",), 'a, "quoted" note')])
        back = _export(second, again, fmt, tmp_path / f"back{FORMATS[fmt].suffix}")
    if fmt == "eaf":
        assert _tiers(back) == _tiers(out)


def _tiers(path: Path) -> list[tuple[str, str, list[tuple[str, str, str]]]]:
    root = ET.parse(path).getroot()
    slots = {s.get("TIME_SLOT_ID"): s.get("TIME_VALUE") for s in root.iterfind("TIME_ORDER/TIME_SLOT")}
    return [
        (
            tier.get("TIER_ID", ""),
            tier.get("PARTICIPANT", ""),
            [
                (
                    slots[a.get("TIME_SLOT_REF1")],
                    slots[a.get("TIME_SLOT_REF2")],
                    a.findtext("ANNOTATION_VALUE") or "",
                )
                for a in tier.iterfind("ANNOTATION/ALIGNABLE_ANNOTATION")
            ],
        )
        for tier in root.iterfind("TIER")
    ]


def test_an_eaf_with_three_tiers_imports_into_three_tracks(store: Store, tmp_path: Path) -> None:
    video = add_video(store, frames=FRAMES, fps=FPS)
    ms = [round(TIMES[f] * 1000) for f in (0, 10, 30, 40, 20)]
    src = tmp_path / "three.eaf"
    src.write_text(
        f"""<?xml version="1.0" encoding="UTF-8"?>
<ANNOTATION_DOCUMENT FORMAT="3.0" VERSION="3.0">
  <HEADER TIME_UNITS="milliseconds"><MEDIA_DESCRIPTOR MEDIA_URL="{Path(video.path).name}"/></HEADER>
  <TIME_ORDER>
    {"".join(f'<TIME_SLOT TIME_SLOT_ID="ts{i}" TIME_VALUE="{v}"/>' for i, v in enumerate(ms))}
  </TIME_ORDER>
  <TIER TIER_ID="body" PARTICIPANT="ann"><ANNOTATION><ALIGNABLE_ANNOTATION ANNOTATION_ID="a1"
    TIME_SLOT_REF1="ts0" TIME_SLOT_REF2="ts2"><ANNOTATION_VALUE>walk</ANNOTATION_VALUE>
  </ALIGNABLE_ANNOTATION></ANNOTATION></TIER>
  <TIER TIER_ID="gaze" PARTICIPANT="ann"><ANNOTATION><ALIGNABLE_ANNOTATION ANNOTATION_ID="a2"
    TIME_SLOT_REF1="ts1" TIME_SLOT_REF2="ts3"><ANNOTATION_VALUE>screen</ANNOTATION_VALUE>
  </ALIGNABLE_ANNOTATION></ANNOTATION></TIER>
  <TIER TIER_ID="clicks"><ANNOTATION><ALIGNABLE_ANNOTATION ANNOTATION_ID="a3"
    TIME_SLOT_REF1="ts4" TIME_SLOT_REF2="ts4"><ANNOTATION_VALUE>click</ANNOTATION_VALUE>
  </ALIGNABLE_ANNOTATION></ANNOTATION></TIER>
</ANNOTATION_DOCUMENT>
""",
        encoding="utf-8",
    )
    _import(store, src, "eaf")
    assert _labels(store, video) == [
        ("body", "ann", "state", "walk", 0, 30),
        ("clicks", None, "point", "click", 20, 21),
        ("gaze", "ann", "state", "screen", 10, 40),
    ]


def test_frames_csv_keeps_one_block_of_columns_per_track(tmp_path: Path, db_url: str) -> None:
    with open_store(db_url) as first:
        video = add_video(first, frames=FRAMES, fps=FPS)
        head = first.tracks.add("head")
        walk, rest = first.classes.add("walk"), first.classes.add("rest")
        sniff = first.classes.add("sniff", track_id=head.id)
        first.segments.paint(
            video.id,
            [NewSegment(walk.id, 0, 30), NewSegment(rest.id, 30, 60), NewSegment(sniff.id, 10, 40)],
        )
        out = _export(first, video, "frames-csv", tmp_path / "clip one_labels.csv")
        expected = _labels(first, video)
    header = out.read_text(encoding="utf-8").splitlines()[0]
    assert header == ",behaviour/background,behaviour/rest,behaviour/walk,head/background,head/sniff"
    with open_store(f"sqlite:///{tmp_path / 'second.sqlite3'}") as second:
        again = add_video(second, frames=FRAMES, fps=FPS)
        _import(second, out, "frames-csv")
        assert _labels(second, again) == expected
