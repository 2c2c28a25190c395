"""ActivityNet ground-truth JSON: seconds from each video's timestamps, frames kept alongside.

Background is the absence of an action in ActivityNet, so background segments are not written.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core.atomic import atomic_write
from core.formats.base import VideoLabels
from core.store.records import BACKGROUND

VERSION = "ActivityNet-style 1.3 (C3D Labeller)"


class ActivityNetJson:
    name = "activitynet"
    suffix = ".json"

    def write(self, items: Sequence[VideoLabels], out: Path) -> None:
        with atomic_write(out) as f:
            json.dump(ground_truth(items), f, indent=1, ensure_ascii=False)
            f.write("\n")


def ground_truth(items: Sequence[VideoLabels], subset: str = "training") -> dict[str, Any]:
    database: dict[str, Any] = {}
    labels: set[str] = set()
    for item in items:
        annotations = []
        for seg in item.segments:
            if seg.class_name == BACKGROUND:
                continue
            labels.add(seg.class_name)
            annotations.append(
                {
                    "segment": [
                        round(item.seconds(seg.start_frame), 6),
                        round(item.seconds(seg.end_frame), 6),
                    ],
                    "label": seg.class_name,
                    "frames": [seg.start_frame, seg.end_frame],
                }
            )
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


def video_key(item: VideoLabels, taken: dict[str, Any]) -> str:
    """The file's stem, made unique with the video id when two files share a name."""
    stem = Path(item.video.path).stem
    return stem if stem not in taken else f"{stem}-{item.video.id}"
