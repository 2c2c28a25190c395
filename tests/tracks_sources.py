"""Label files as BORIS and ELAN write them, for the tracks' end-to-end tests (core and GUI).

Two subjects with overlapping state behaviours in exclusive behaviour groups, point events and
modifiers (a ``.boris`` project); three ELAN tiers with participants, a zero-length annotation
and a comment on a dependent tier (an ``.eaf``). Times fall on frame starts of a 25 fps video.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

FPS = 25.0
FRAMES = 60

# (subject, behaviour, category, type, start frame, stop frame, modifiers, comment)
BORIS_EVENTS = [
    ("m1", "walk", "body", "STATE", 0, 20, "fast", ""),
    ("m1", "rest", "body", "STATE", 20, 45, "", ""),
    ("m1", "sniff", "head", "STATE", 5, 30, "", "nose down"),
    ("m2", "walk", "body", "STATE", 10, 50, "slow", ""),
    ("m1", "jump", "", "POINT", 12, 12, "left", ""),
    ("m2", "jump", "", "POINT", 30, 30, "right", ""),
    ("m2", "jump", "", "POINT", 31, 31, "left", "twice"),
]
BORIS_TRACKS = {  # what the import makes of them: track → (kind, subject, labels)
    "m1: body": ("state", "m1", [("walk", 0, 20), ("rest", 20, 45)]),
    "m1: head": ("state", "m1", [("sniff", 5, 30)]),
    "m2: body": ("state", "m2", [("walk", 10, 50)]),
    "m1 events": ("point", "m1", [("jump", 12, 13)]),
    "m2 events": ("point", "m2", [("jump", 30, 31), ("jump", 31, 32)]),
}


def _t(frame: int) -> float:
    return round(frame / FPS, 3)


def boris_project(video: Path) -> dict:
    """A BORIS 8 project: ethogram with categories, exclusions and modifier sets; one observation."""
    behaviours = [
        ("State event", "w", "walk", "body", "rest", ["fast", "slow"]),
        ("State event", "r", "rest", "body", "walk", []),
        ("State event", "s", "sniff", "head", "", []),
        ("Point event", "j", "jump", "", "", ["left", "right"]),
    ]
    conf = {
        str(i): {
            "type": kind,
            "key": key,
            "code": code,
            "description": "",
            "color": "",
            "category": category,
            "modifiers": (
                {"0": {"name": "side" if code == "jump" else "speed", "type": 0, "values": values}}
                if values
                else {}
            ),
            "excluded": excluded,
            "coding map": "",
        }
        for i, (kind, key, code, category, excluded, values) in enumerate(behaviours)
    }
    events: list[list[object]] = []
    for subject, code, _category, kind, start, stop, modifier, comment in BORIS_EVENTS:
        events.append([_t(start), subject, code, modifier, comment, start])
        if kind == "STATE":  # BORIS records a state's STOP as a second row of the same behaviour
            events.append([_t(stop), subject, code, modifier, "", stop])
    events.sort(key=lambda e: (e[0], str(e[1]), str(e[2])))
    return {
        "time_format": "hh:mm:ss",
        "project_date": "2024-05-02T10:00:00",
        "project_name": "two mice",
        "project_description": "",
        "project_format_version": "7.0",
        "subjects_conf": {
            "0": {"key": "1", "name": "m1", "description": ""},
            "1": {"key": "2", "name": "m2", "description": ""},
        },
        "behaviors_conf": conf,
        "behavioral_categories": ["body", "head"],
        "observations": {
            "session 1": {
                "file": {"1": [str(video)], "2": [], "3": [], "4": [], "5": [], "6": [], "7": [], "8": []},
                "type": "MEDIA",
                "date": "2024-05-02T10:05:00",
                "description": "",
                "time offset": 0.0,
                "events": events,
                "observation time interval": [0, 0],
                "independent_variables": {},
                "visualize_spectrogram": False,
                "visualize_waveform": False,
                "close_behaviors_between_videos": False,
                "media_info": {
                    "length": {str(video): FRAMES / FPS},
                    "fps": {str(video): FPS},
                    "hasVideo": {str(video): True},
                    "hasAudio": {str(video): False},
                },
            }
        },
        "behaviors_coding_map": [],
        "coding_map": {},
        "converters": {},
    }


def write_boris_project(video: Path, out: Path) -> Path:
    out.write_text(json.dumps(boris_project(video), indent=1), encoding="utf-8")
    return out


def boris_project_summary(path: Path) -> tuple[list[tuple[object, ...]], set[tuple[str, ...]], set[str]]:
    """A BORIS project as BORIS shows it: every event row (time to the millisecond, subject,
    behaviour, modifiers, comment, frame), the ethogram (code, type, category, exclusions)
    and the subjects."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    events = sorted(
        (round(float(e[0]), 3), e[1], e[2], e[3], e[4], e[5])
        for obs in doc["observations"].values()
        for e in obs["events"]
    )
    ethogram = {
        (b["code"], b["type"], b["category"], ",".join(sorted(filter(None, b["excluded"].split(",")))))
        for b in doc["behaviors_conf"].values()
    }
    return events, ethogram, {s["name"] for s in doc["subjects_conf"].values()}


def boris_expected_rows() -> list[tuple[str, ...]]:
    """Every event as the exported aggregated table must state it."""
    return sorted(
        (s, b, c, k, f"{start / FPS:.6f}", f"{stop / FPS:.6f}", m, note)
        for s, b, c, k, start, stop, m, note in BORIS_EVENTS
    )


def boris_table_rows(path: Path) -> list[tuple[str, ...]]:
    """The events of a BORIS aggregated-events table, in the shape of ``boris_expected_rows``."""
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
    return sorted((*(r[k] for k in keys), r["Comment start"]) for r in rows)


# (tier, participant, start frame, end frame, value, comment); a zero-length annotation is a point
EAF_ANNOTATIONS = [
    ("body", "ann", 0, 20, "walk", "brisk"),
    ("body", "ann", 20, 45, "rest", ""),
    ("gaze", "bob", 10, 40, "screen", ""),
    ("clicks", "ann", 12, 12, "click", ""),
    ("clicks", "ann", 30, 30, "click", ""),
]
EAF_TRACKS = {
    "body": ("state", "ann", [("walk", 0, 20), ("rest", 20, 45)]),
    "gaze": ("state", "bob", [("screen", 10, 40)]),
    "clicks": ("point", "ann", [("click", 12, 13), ("click", 30, 31)]),
}


def _ms(frame: int) -> int:
    return round(frame / FPS * 1000)


def write_eaf(video: Path, out: Path) -> Path:
    """Three tiers as ELAN 6 saves them, and a comment on a symbolically associated tier."""
    slots = sorted({_ms(f) for _, _, a, b, _, _ in EAF_ANNOTATIONS for f in (a, b)})
    slot = {ms: f"ts{i + 1}" for i, ms in enumerate(slots)}
    tiers: dict[str, list[str]] = {}
    participants: dict[str, str] = {}
    comments: list[str] = []
    for n, (tier, who, a, b, value, comment) in enumerate(EAF_ANNOTATIONS, start=1):
        participants[tier] = who
        tiers.setdefault(tier, []).append(
            f'<ANNOTATION><ALIGNABLE_ANNOTATION ANNOTATION_ID="a{n}" TIME_SLOT_REF1="{slot[_ms(a)]}" '
            f'TIME_SLOT_REF2="{slot[_ms(b)]}"><ANNOTATION_VALUE>{value}</ANNOTATION_VALUE>'
            "</ALIGNABLE_ANNOTATION></ANNOTATION>"
        )
        if comment:
            comments.append(
                f'<ANNOTATION><REF_ANNOTATION ANNOTATION_ID="c{n}" ANNOTATION_REF="a{n}">'
                f"<ANNOTATION_VALUE>{comment}</ANNOTATION_VALUE></REF_ANNOTATION></ANNOTATION>"
            )
    body = "".join(
        f'<TIER LINGUISTIC_TYPE_REF="default-lt" PARTICIPANT="{participants[t]}" TIER_ID="{t}">'
        f"{''.join(anns)}</TIER>"
        for t, anns in tiers.items()
    )
    times = "".join(f'<TIME_SLOT TIME_SLOT_ID="{slot[ms]}" TIME_VALUE="{ms}"/>' for ms in slots)
    out.write_text(
        f"""<?xml version="1.0" encoding="UTF-8"?>
<ANNOTATION_DOCUMENT AUTHOR="" DATE="2024-05-02T10:00:00+01:00" FORMAT="3.0" VERSION="3.0"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    xsi:noNamespaceSchemaLocation="http://www.mpi.nl/tools/elan/EAFv3.0.xsd">
  <HEADER MEDIA_FILE="" TIME_UNITS="milliseconds">
    <MEDIA_DESCRIPTOR MEDIA_URL="{video.as_uri()}" MIME_TYPE="video/*" RELATIVE_MEDIA_URL="./{video.name}"/>
    <PROPERTY NAME="lastUsedAnnotationId">{len(EAF_ANNOTATIONS) * 2}</PROPERTY>
  </HEADER>
  <TIME_ORDER>{times}</TIME_ORDER>
  {body}
  <TIER LINGUISTIC_TYPE_REF="comment-lt" PARENT_REF="body" PARTICIPANT="ann" TIER_ID="notes">
    {"".join(comments)}</TIER>
  <LINGUISTIC_TYPE GRAPHIC_REFERENCES="false" LINGUISTIC_TYPE_ID="default-lt" TIME_ALIGNABLE="true"/>
  <LINGUISTIC_TYPE CONSTRAINTS="Symbolic_Association" GRAPHIC_REFERENCES="false"
      LINGUISTIC_TYPE_ID="comment-lt" TIME_ALIGNABLE="false"/>
  <CONSTRAINT DESCRIPTION="1-1 association with a parent annotation" STEREOTYPE="Symbolic_Association"/>
</ANNOTATION_DOCUMENT>
""",
        encoding="utf-8",
    )
    return out


def eaf_annotations(path: Path) -> list[tuple[str, str, int, int, str, str]]:
    """What an EAF file states, in the shape of ``EAF_ANNOTATIONS`` (times back to frames)."""
    import xml.etree.ElementTree as ET

    root = ET.parse(path).getroot()
    ms = {s.get("TIME_SLOT_ID"): int(s.get("TIME_VALUE", "0")) for s in root.iterfind("TIME_ORDER/TIME_SLOT")}
    notes = {
        a.get("ANNOTATION_REF"): a.findtext("ANNOTATION_VALUE") or ""
        for a in root.iterfind("TIER/ANNOTATION/REF_ANNOTATION")
    }
    out = []
    for tier in root.iterfind("TIER"):
        for a in tier.iterfind("ANNOTATION/ALIGNABLE_ANNOTATION"):
            out.append(
                (
                    tier.get("TIER_ID", ""),
                    tier.get("PARTICIPANT", ""),
                    round(ms[a.get("TIME_SLOT_REF1")] * FPS / 1000),
                    round(ms[a.get("TIME_SLOT_REF2")] * FPS / 1000),
                    a.findtext("ANNOTATION_VALUE") or "",
                    notes.get(a.get("ANNOTATION_ID"), ""),
                )
            )
    return sorted(out)
