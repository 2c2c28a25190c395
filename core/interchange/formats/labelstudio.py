"""Label Studio video tasks with ``TimelineLabels`` results (frame ranges).

Label Studio numbers frames from 1 and ends a range on its last frame (inclusive), so our
half-open ``[s, e)`` becomes ``{"start": s + 1, "end": e}``. Its player guesses frame rates,
so every task states the video's ``frameRate`` explicitly (bind it with
``<Video frameRate="$frameRate">``). Labels are written as annotations, model events as
predictions with their scores; import reads annotations (predictions when a task has none).
With several tracks each track is its own ``TimelineLabels`` control (``from_name`` = the
track's name; its subject and point kind in the result's ``meta``); a file using several
controls imports into one track per control. A label's modifiers and comment are per-region
results sharing the region's ``id``: a ``Choices`` control named "modifiers" and a ``TextArea``
named "comment" (``<Choices name="modifiers" toName="video" perRegion="true"
choice="multiple">``, ``<TextArea name="comment" toName="video" perRegion="true"/>``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from core.atomic import atomic_write
from core.interchange.formats.base import PREDICTED, BadFile, ParsedFile, ParsedSpan, VideoLabels, VideoRef
from core.interchange.formats.numbers import frame_value
from core.interchange.formats.structured import load_json

FROM_NAME, TO_NAME = "videoLabels", "video"
MODIFIERS, COMMENT = "modifiers", "comment"


class LabelStudioJson:
    name = "labelstudio"
    suffix = ".json"
    per_video = False
    keeps_notes = True

    def write(self, items: Sequence[VideoLabels], out: Path) -> None:
        tasks = [task(i + 1, item) for i, item in enumerate(items)]
        with atomic_write(out) as f:
            json.dump(tasks, f, indent=1, ensure_ascii=False)
            f.write("\n")

    def read(self, path: Path) -> ParsedFile:
        doc = load_json(path)
        if isinstance(doc, dict):
            doc = [doc]
        if not isinstance(doc, list):
            raise BadFile(path, "", "this is not a Label Studio export (expected a list of tasks)")
        parsed = ParsedFile(path)
        for t, entry in enumerate(doc):
            where = f"task[{t}]"
            data = entry.get("data") if isinstance(entry, dict) else None
            if not isinstance(data, dict):
                parsed.problem(where, "the task has no 'data' object")
                continue
            ref = _video(data)
            for key in ("annotations", "predictions"):
                found = False
                for a, ann in enumerate(entry.get(key) or []):
                    if not isinstance(ann, dict) or ann.get("was_cancelled"):
                        continue
                    results = ann.get("result") or []
                    extras = _region_extras(results)
                    for r, result in enumerate(results):
                        found = True
                        _add(parsed, ref, result, f"{where}.{key}[{a}].result[{r}]", extras)
                if found:
                    break
        _split_tracks(parsed, any(_marked(entry) for entry in doc))
        return parsed


def task(task_id: int, item: VideoLabels) -> dict[str, Any]:
    labels = [s for s in item.segments if s.source != PREDICTED]
    predicted = [s for s in item.segments if s.source == PREDICTED]
    entry: dict[str, Any] = {
        "id": task_id,
        "data": {
            "video": item.video.path,
            "frameRate": item.video.fps,
            "video_hash": item.video.content_hash,
            "frames": item.frame_count,
        },
        "annotations": [],
        "predictions": [],
    }
    if labels or not predicted:
        entry["annotations"].append({"id": task_id, "was_cancelled": False, "result": _results(labels)})
    if predicted:
        scores = [s.score for s in predicted if s.score is not None]
        entry["predictions"].append(
            {
                "model_version": "C3D Labeller",
                "score": round(sum(scores) / len(scores), 6) if scores else None,
                "result": _results(predicted),
            }
        )
    return entry


def _results(spans: Sequence[Any]) -> list[dict[str, Any]]:
    results = []
    for n, seg in enumerate(spans, start=1):
        result: dict[str, Any] = {
            "id": f"seg{n}",
            "type": "timelinelabels",
            "from_name": FROM_NAME if seg.track is None else seg.track,
            "to_name": TO_NAME,
            "origin": "prediction" if seg.source == PREDICTED else "manual",
            "value": {
                "ranges": [{"start": seg.start_frame + 1, "end": seg.end_frame}],
                "timelinelabels": [seg.class_name],
            },
        }
        if seg.score is not None:
            result["score"] = round(float(seg.score), 6)
        meta = {
            k: v
            for k, v in (
                ("track", seg.track is not None or None),
                ("subject", seg.subject),
                ("point", seg.point or None),
            )
            if v
        }
        if meta:
            result["meta"] = meta
        results.append(result)
        region = {"id": result["id"], "to_name": TO_NAME, "origin": result["origin"]}
        if seg.modifiers:
            value = {"choices": list(seg.modifiers)}
            results.append({**region, "type": "choices", "from_name": MODIFIERS, "value": value})
        if seg.comment:
            value = {"text": [seg.comment]}
            results.append({**region, "type": "textarea", "from_name": COMMENT, "value": value})
    return results


Extras = dict[str, tuple[tuple[str, ...], str | None]]


def _region_extras(results: object) -> Extras:
    """Per-region modifiers (``choices``) and comment (``textarea``), by region id."""
    extras: dict[str, tuple[tuple[str, ...], str | None]] = {}
    for result in results if isinstance(results, list) else []:
        if not isinstance(result, dict) or not isinstance(result.get("id"), str):
            continue
        value = result.get("value")
        value = value if isinstance(value, dict) else {}
        modifiers, comment = extras.get(result["id"], ((), None))
        if result.get("type") == "choices" and result.get("from_name") == MODIFIERS:
            found = value.get("choices")
            if isinstance(found, list):
                modifiers = tuple(c for c in found if isinstance(c, str) and c)
        elif result.get("type") == "textarea" and result.get("from_name") == COMMENT:
            found = value.get("text")
            if isinstance(found, list):
                comment = "\n".join(t for t in found if isinstance(t, str)) or None
            elif isinstance(found, str):
                comment = found or None
        else:
            continue
        extras[result["id"]] = (modifiers, comment)
    return extras


def _video(data: dict[str, Any]) -> VideoRef:
    video = data.get("video")
    path = video if isinstance(video, str) else ""
    local = path if path.startswith("/") or (len(path) > 2 and path[1] == ":") else None
    name = Path(path.split("?")[0].replace("\\", "/")).name if path else None
    digest = data.get("video_hash") if isinstance(data.get("video_hash"), str) else None
    return VideoRef(path=local, content_hash=digest, name=name)


def _marked(entry: object) -> bool:
    """Whether a task's results say their controls are tracks (our export writes ``meta.track``)."""
    if not isinstance(entry, dict):
        return False
    for key in ("annotations", "predictions"):
        for ann in entry.get(key) or []:
            for result in (ann.get("result") or []) if isinstance(ann, dict) else []:
                meta = result.get("meta") if isinstance(result, dict) else None
                if isinstance(meta, dict) and meta.get("track") is True:
                    return True
    return False


def _split_tracks(parsed: ParsedFile, marked: bool = False) -> None:
    """Several controls in one file: each is a track; one control is the default track unless
    our own export marked it as a track (``meta.track``)."""
    if len({s.track for s in parsed.spans}) < 2 and not marked:
        parsed.spans = [replace(s, track=None, subject=None) for s in parsed.spans]


def _add(parsed: ParsedFile, ref: VideoRef, result: object, where: str, extras: Extras) -> None:
    if not isinstance(result, dict) or result.get("type", "timelinelabels") != "timelinelabels":
        return  # other controls (choices, text) carry no frame ranges
    value = result.get("value")
    labels = value.get("timelinelabels") if isinstance(value, dict) else None
    ranges = value.get("ranges") if isinstance(value, dict) else None
    if not isinstance(labels, list) or not isinstance(ranges, list) or len(labels) != 1:
        parsed.problem(where, "the result has no single 'timelinelabels' label with 'ranges'")
        return
    if not isinstance(labels[0], str):
        parsed.problem(where, "the label is not text")
        return
    for i, frames in enumerate(ranges):
        rwhere = f"{where}.ranges[{i}]"
        try:
            if not isinstance(frames, dict):
                raise ValueError("the range is not an object with 'start' and 'end'")
            start = frame_value(frames.get("start"), "start") - 1
            end = frame_value(frames.get("end"), "end")
        except ValueError as exc:
            parsed.problem(rwhere, str(exc))
            continue
        found_meta = result.get("meta")
        meta: dict[str, Any] = found_meta if isinstance(found_meta, dict) else {}
        subject = meta.get("subject") if isinstance(meta.get("subject"), str) else None
        control = result.get("from_name")
        modifiers, comment = extras.get(str(result.get("id")), ((), None))
        parsed.spans.append(
            ParsedSpan(
                ref,
                labels[0],
                rwhere,
                start_frame=start,
                end_frame=end,
                track=control if isinstance(control, str) and control else None,
                subject=subject,
                point=meta.get("point") is True,
                modifiers=modifiers,
                comment=comment,
            )
        )
