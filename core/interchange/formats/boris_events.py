"""BORIS's event lists: START/STOP toggles of state behaviours, single POINT events.

A ``.boris`` project records, per observation, ``[time, subject, behaviour, modifiers, comment,
(frame index)]`` rows; a state behaviour starts at its first row and stops at the next row of
the same subject and behaviour. Each observation names its media file (player 1), which is how
its events find their video.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.interchange.formats.base import BadFile, ParsedFile, ParsedSpan, VideoRef
from core.interchange.formats.groups import clean_subject, track_name
from core.interchange.formats.numbers import seconds_value
from core.interchange.formats.structured import load_json


@dataclass(frozen=True)
class Event:
    time: float
    subject: str
    behavior: str
    kind: str  # "state" | "point"
    where: str
    video: VideoRef
    category: str = ""
    modifiers: tuple[str, ...] = ()
    comment: str | None = None

    def track(self, grouped: bool) -> str | None:
        return track_name(self.subject, self.category, self.kind == "point") if grouped else None


def pair_events(events: list[Event], parsed: ParsedFile, grouped: bool = False) -> None:
    """Spans from toggles, in time order; a START never stopped is a problem.

    ``grouped`` (the file has subjects or categories) puts each span in its subject's track.
    """
    open_: dict[tuple[str, str], Event] = {}
    for event in sorted(events, key=lambda e: e.time):
        if event.kind == "point":
            parsed.spans.append(
                ParsedSpan(
                    event.video,
                    event.behavior,
                    event.where,
                    start_s=event.time,
                    point=True,
                    track=event.track(grouped),
                    subject=event.subject or None,
                    modifiers=event.modifiers,
                    comment=event.comment,
                )
            )
            continue
        key = (event.subject, event.behavior)
        started = open_.pop(key, None)
        if started is None:
            open_[key] = event
            continue
        parsed.spans.append(
            ParsedSpan(
                event.video,
                event.behavior,
                f"{started.where} to {event.where}",
                start_s=started.time,
                end_s=event.time,
                track=started.track(grouped),
                subject=started.subject or None,
                modifiers=started.modifiers,
                comment=started.comment,
            )
        )
    for event in open_.values():
        parsed.problem(event.where, f"'{event.behavior}' starts but never stops")


def read_project(path: Path) -> ParsedFile:
    doc = load_json(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("observations"), dict):
        raise BadFile(path, "", "this is not a BORIS project (no 'observations')")
    kinds = _behaviour_kinds(doc.get("behaviors_conf"))
    categories = _behaviour_categories(doc.get("behaviors_conf"))
    parsed = ParsedFile(path)
    grouped = any(categories.values()) or _has_subjects(doc["observations"])
    for obs_id, obs in doc["observations"].items():
        where = f"observations[{obs_id!r}]"
        if not isinstance(obs, dict) or not isinstance(obs.get("events", []), list):
            parsed.problem(where, "the observation is not an object with a list of events")
            continue
        video = _observation_video(obs, str(obs_id))
        events: list[Event] = []
        for i, row in enumerate(obs.get("events", [])):
            ewhere = f"{where}.events[{i}]"
            if not isinstance(row, list) or len(row) < 3 or not isinstance(row[2], str):
                parsed.problem(ewhere, "the event is not [time, subject, behavior, …]")
                continue
            try:
                time = seconds_value(row[0], "the time")
            except ValueError as exc:
                parsed.problem(ewhere, str(exc))
                continue
            subject = clean_subject(row[1]) if isinstance(row[1], str) else ""
            modifiers = row[3] if len(row) > 3 and isinstance(row[3], str) else ""
            comment = row[4] if len(row) > 4 and isinstance(row[4], str) and row[4] else None
            events.append(
                Event(
                    time,
                    subject,
                    row[2],
                    kinds.get(row[2], "state"),
                    ewhere,
                    video,
                    categories.get(row[2], ""),
                    tuple(m.strip() for m in modifiers.split("|") if m.strip() and m.strip() != "None"),
                    comment,
                )
            )
        pair_events(events, parsed, grouped)
    return parsed


def _behaviour_categories(conf: object) -> dict[str, str]:
    categories: dict[str, str] = {}
    if isinstance(conf, dict):
        for entry in conf.values():
            if isinstance(entry, dict) and isinstance(entry.get("code"), str):
                category = entry.get("category", "")
                categories[entry["code"]] = category.strip() if isinstance(category, str) else ""
    return categories


def _has_subjects(observations: dict) -> bool:
    for obs in observations.values():
        if isinstance(obs, dict) and isinstance(obs.get("events"), list):
            for row in obs["events"]:
                if (
                    isinstance(row, list)
                    and len(row) > 1
                    and isinstance(row[1], str)
                    and clean_subject(row[1])
                ):
                    return True
    return False


def _behaviour_kinds(conf: object) -> dict[str, str]:
    kinds: dict[str, str] = {}
    if isinstance(conf, dict):
        for entry in conf.values():
            if isinstance(entry, dict) and isinstance(entry.get("code"), str):
                is_point = "point" in str(entry.get("type", "")).casefold()
                kinds[entry["code"]] = "point" if is_point else "state"
    return kinds


def _observation_video(obs: dict, obs_id: str) -> VideoRef:
    files = obs.get("file")
    if isinstance(files, dict):
        for player in sorted(files, key=str):
            media = files[player]
            if isinstance(media, list) and media and isinstance(media[0], str):
                name = Path(media[0].replace("\\", "/")).name
                return VideoRef(path=media[0], name=name)
    return VideoRef(name=obs_id)
