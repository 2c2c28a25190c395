"""Writing a BORIS project (``.boris``): the ethogram, the subjects and one observation per video.

BORIS opens this file as a project. Each track's classes become behaviours (state or point
events) in the track's category, each subject a subject; a state label is a START and a STOP
row of its subject and behaviour, a point label one row, with its modifiers (one modifier set
per value a label may carry, "|" between sets, as BORIS joins them) and its comment. Times are
each frame's start from the video's own timestamps, to the microsecond, so reading the project
back lands on the same frames. BORIS knows a behaviour by its code alone: a class name used in
two categories (or as state and point) keeps the first, and the export says so.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.atomic import atomic_write
from core.interchange.formats.base import VideoLabels
from core.interchange.formats.groups import subject_and_category

log = logging.getLogger(__name__)

MODIFIER_SEPARATOR = "|"
PLAYERS = 8


def project_document(items: Sequence[VideoLabels]) -> dict[str, Any]:
    behaviours: dict[str, dict[str, Any]] = {}
    subjects: list[str] = []
    observations: dict[str, Any] = {}
    for item in items:
        rows: list[tuple[float, int, list[Any]]] = []
        for seg in item.segments:
            subject, category = subject_and_category(seg.track, seg.subject, seg.point)
            _behaviour(behaviours, seg.class_name, category, seg.point, len(seg.modifiers), seg.modifiers)
            if subject and subject not in subjects:
                subjects.append(subject)
            modifiers = MODIFIER_SEPARATOR.join(seg.modifiers)
            start = round(item.seconds(seg.start_frame), 6)
            rows.append(
                (start, 0, [start, subject, seg.class_name, modifiers, seg.comment or "", seg.start_frame])
            )
            if not seg.point:
                stop = round(item.seconds(seg.end_frame), 6)
                rows.append((stop, -1, [stop, subject, seg.class_name, modifiers, "", seg.end_frame]))
        rows.sort(key=lambda r: (r[0], r[1]))  # a STOP before a START at the same time
        observations[_observation_id(item, observations)] = _observation(item, [r[2] for r in rows])
    for entry in behaviours.values():  # a category's state behaviours exclude one another (a track)
        if entry["type"] == "State event" and entry["category"]:
            others = [
                b["code"]
                for b in behaviours.values()
                if b is not entry and b["type"] == "State event" and b["category"] == entry["category"]
            ]
            entry["excluded"] = ",".join(others)
    return {
        "time_format": "s",
        "project_date": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "project_name": "C3D Labeller export",
        "project_description": "",
        "project_format_version": "7.0",
        "subjects_conf": {str(i): {"key": "", "name": s, "description": ""} for i, s in enumerate(subjects)},
        "behaviors_conf": {str(i): b for i, b in enumerate(behaviours.values())},
        "behavioral_categories": sorted({b["category"] for b in behaviours.values() if b["category"]}),
        "observations": observations,
        "behaviors_coding_map": [],
        "coding_map": {},
        "converters": {},
    }


def write_project(items: Sequence[VideoLabels], out: Path) -> None:
    with atomic_write(out) as f:
        json.dump(project_document(items), f, indent=1, ensure_ascii=False)
        f.write("\n")


def _behaviour(
    behaviours: dict[str, dict[str, Any]],
    code: str,
    category: str,
    point: bool,
    sets: int,
    values: Sequence[str],
) -> None:
    kind = "Point event" if point else "State event"
    entry = behaviours.get(code)
    if entry is None:
        entry = {
            "type": kind,
            "key": "",
            "code": code,
            "description": "",
            "color": "",
            "category": category,
            "modifiers": {},
            "excluded": "",
            "coding map": "",
        }
        behaviours[code] = entry
    elif (entry["type"], entry["category"]) != (kind, category):
        log.warning(
            "BORIS knows one behaviour '%s': kept as %s in '%s'", code, entry["type"], entry["category"]
        )
    modifiers: dict[str, Any] = entry["modifiers"]
    for n in range(sets):
        found = modifiers.setdefault(str(n), {"name": f"modifier {n + 1}", "type": 0, "values": []})
        if values[n] not in found["values"]:
            found["values"].append(values[n])


def _observation_id(item: VideoLabels, taken: dict[str, Any]) -> str:
    return item.key if item.key not in taken else f"{item.key}-{item.video.id}"


def _observation(item: VideoLabels, events: list[list[Any]]) -> dict[str, Any]:
    path = item.video.path
    return {
        "file": {str(n): ([path] if n == 1 else []) for n in range(1, PLAYERS + 1)},
        "type": "MEDIA",
        "date": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "description": "",
        "time offset": 0.0,
        "events": events,
        "observation time interval": [0, 0],
        "independent_variables": {},
        "visualize_spectrogram": False,
        "visualize_waveform": False,
        "close_behaviors_between_videos": False,
        "media_info": {
            "length": {path: round(item.duration_s, 6)},
            "fps": {path: item.video.fps},
            "hasVideo": {path: True},
            "hasAudio": {path: False},
        },
    }
