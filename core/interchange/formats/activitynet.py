"""ActivityNet JSON: ground truth (``database``) and detection results (``results``).

Seconds come from each video's own timestamps; each annotation also carries its exact
``frames``, which evaluation scripts ignore and our importer prefers. Background is the absence
of an action in ActivityNet, so background segments are not written.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from core.atomic import atomic_write
from core.interchange.formats.base import (
    PREDICTED,
    BadFile,
    ParsedFile,
    ParsedSpan,
    Span,
    VideoLabels,
    VideoRef,
)
from core.interchange.formats.numbers import frame_value, seconds_value
from core.interchange.formats.structured import STREAMED, iter_json
from core.store.records import BACKGROUND

VERSION = "ActivityNet-style 1.3 (C3D Labeller)"


class ActivityNetJson:
    name = "activitynet"
    suffix = ".json"
    per_video = False
    keeps_notes = False

    def write(self, items: Sequence[VideoLabels], out: Path) -> None:
        """Predicted spans are written as detection results, labels as ground truth."""
        predicted = any(s.source == PREDICTED for item in items for s in item.segments)
        doc = results(items) if predicted else ground_truth(items)
        with atomic_write(out) as f:
            json.dump(doc, f, indent=1, ensure_ascii=False)
            f.write("\n")

    def read(self, path: Path) -> ParsedFile:
        """Streams the ``database`` (or ``results``) object entry by entry; the first one wins."""
        parsed = ParsedFile(path)
        kind: str | None = None
        tracked = False  # the file names each label's track (null for none): no guessing from "/"
        for keys, value in iter_json(path, _SECTIONS):
            if len(keys) != 2:
                if keys and keys[0] in _SECTIONS and value is STREAMED and kind is None:
                    kind = keys[0]  # an empty database
                continue
            section, key = keys
            if kind is None:
                kind = section
            if section != kind:
                continue
            if section == "database":
                where = f"database[{key!r}]"
                if not isinstance(value, dict) or not isinstance(value.get("annotations", []), list):
                    parsed.problem(where, "the entry is not an object with a list of annotations")
                    continue
                ref = _ref(key, value.get("path"))
                for i, ann in enumerate(value.get("annotations", [])):
                    tracked |= isinstance(ann, dict) and "track" in ann
                    _add(parsed, ref, ann, f"{where}.annotations[{i}]")
            else:
                where = f"results[{key!r}]"
                if not isinstance(value, list):
                    parsed.problem(where, "the entry is not a list of detections")
                    continue
                for i, ann in enumerate(value):
                    tracked |= isinstance(ann, dict) and "track" in ann
                    _add(parsed, _ref(key, None), ann, f"{where}[{i}]")
        if kind is None:
            raise BadFile(path, "", "this is not ActivityNet JSON (no 'database' or 'results' object)")
        _split_tracks(parsed, tracked)
        return parsed


_SECTIONS = frozenset({"database", "results"})


def names_tracks(items: Sequence[VideoLabels]) -> bool:
    """Whether annotations say their track ("track", null for none): with tracks, or when a class
    name holds a "/" that would otherwise read as ``track/class``. Plain files stay plain."""
    spans = [s for item in items for s in item.segments]
    return any(s.track is not None or "/" in s.class_name for s in spans)


def ground_truth(items: Sequence[VideoLabels], subset: str = "training") -> dict[str, Any]:
    database: dict[str, Any] = {}
    tracked = names_tracks(items)
    labels: set[str] = set()
    for item in items:
        annotations = []
        for seg in item.segments:
            if seg.class_name == BACKGROUND:
                continue
            labels.add(label_of(seg))
            annotation: dict[str, Any] = {
                "segment": [
                    round(item.seconds(seg.start_frame), 6),
                    round(item.seconds(seg.end_frame), 6),
                ],
                "label": label_of(seg),
                "frames": [seg.start_frame, seg.end_frame],
            }
            if tracked:
                annotation["track"] = seg.track
            if seg.point:
                annotation["point"] = True
            if seg.subject:
                annotation["subject"] = seg.subject
            annotations.append(annotation)
        database[video_key(item, database)] = {
            "subset": subset,
            "duration": round(item.duration_s, 6),
            "fps": item.video.fps,
            "frames": item.frame_count,
            "path": item.video.path,
            "annotations": annotations,
        }
    taxonomy = [
        {"nodeId": i + 1, "nodeName": name, "parentId": 0, "parentName": "Root"}
        for i, name in enumerate(sorted(labels))
    ]
    return {"version": VERSION, "taxonomy": taxonomy, "database": database}


def results(items: Sequence[VideoLabels]) -> dict[str, Any]:
    """The detection-results layout ActivityNet's evaluation reads."""
    found: dict[str, Any] = {}
    tracked = names_tracks(items)
    for item in items:
        found[video_key(item, found)] = [
            {
                "label": label_of(seg),
                "score": round(float(seg.score if seg.score is not None else 1.0), 6),
                "segment": [round(item.seconds(seg.start_frame), 6), round(item.seconds(seg.end_frame), 6)],
                "frames": [seg.start_frame, seg.end_frame],
                **({"track": seg.track} if tracked else {}),
            }
            for seg in item.segments
            if seg.class_name != BACKGROUND
        ]
    return {"version": VERSION, "results": found, "external_data": {"used": False, "details": ""}}


def label_of(seg: Span) -> str:
    """One label per segment: ``track/class`` when the project has several tracks."""
    return seg.class_name if seg.track is None else f"{seg.track}/{seg.class_name}"


def _split_tracks(parsed: ParsedFile, tracked: bool) -> None:
    """Labels read ``track/class`` when written from several tracks. Our files say each label's
    track (``"track"``, null for none), so a class named "a/b" stays whole; in a file without
    that field, labels that all hold a "/" are taken as ``track/class``."""
    if not tracked and (not parsed.spans or not all("/" in s.class_name for s in parsed.spans)):
        return
    spans = []
    for span in parsed.spans:
        if tracked:  # the label is "<its track>/class" exactly when it names a track
            prefix = "" if span.track is None else f"{span.track}/"
            name = span.class_name[len(prefix) :] if span.class_name.startswith(prefix) else span.class_name
            spans.append(replace(span, class_name=name))
            continue
        track, name = span.class_name.split("/", 1)
        spans.append(replace(span, class_name=name, track=track))
    parsed.spans = spans


def video_key(item: VideoLabels, taken: dict[str, Any]) -> str:
    """The file's stem, made unique with the video id when two files share a name."""
    stem = Path(item.video.path).stem
    return stem if stem not in taken else f"{stem}-{item.video.id}"


def _ref(key: str, path: object) -> VideoRef:
    return VideoRef(path=path if isinstance(path, str) and path else None, name=key)


def _add(parsed: ParsedFile, ref: VideoRef, ann: object, where: str) -> None:
    if not isinstance(ann, dict):
        parsed.problem(where, "the annotation is not an object")
        return
    label, segment, frames = ann.get("label"), ann.get("segment"), ann.get("frames")
    if not isinstance(label, str):
        parsed.problem(where, "the annotation has no 'label' text")
        return
    try:
        if isinstance(frames, list) and len(frames) == 2:
            start_f, end_f = frame_value(frames[0], "frames[0]"), frame_value(frames[1], "frames[1]")
            point = ann.get("point") is True
            subject = ann.get("subject") if isinstance(ann.get("subject"), str) else None
            track = ann.get("track") if isinstance(ann.get("track"), str) else None
            parsed.spans.append(
                ParsedSpan(
                    ref,
                    label,
                    where,
                    start_frame=start_f,
                    end_frame=end_f,
                    point=point,
                    subject=subject,
                    track=track,
                )
            )
            return
        if not isinstance(segment, list) or len(segment) != 2:
            parsed.problem(where, "the annotation has no 'segment' of two times")
            return
        start, end = seconds_value(segment[0], "segment[0]"), seconds_value(segment[1], "segment[1]")
    except ValueError as exc:
        parsed.problem(where, str(exc))
        return
    score = ann.get("score")
    score_f = float(score) if isinstance(score, int | float) and not isinstance(score, bool) else None
    parsed.spans.append(ParsedSpan(ref, label, where, start_s=start, end_s=end, score=score_f))
