"""BORIS subjects × behaviour categories ↔ tracks, named so that each maps back exactly.

A BORIS project codes behaviours per subject, grouped by category; a group's state behaviours
exclude one another (a track), and its point events get a point track of their own. The track
is named "subject: category" (either part alone when the other is missing), with " events"
after a point group; a file with neither subjects nor categories keeps everything in the
default track, as before tracks existed.
"""

from __future__ import annotations

NO_SUBJECT = "No focal subject"
EVENTS = "events"


def clean_subject(text: str) -> str:
    subject = text.strip()
    return "" if subject.casefold() in ("", NO_SUBJECT.casefold(), "na") else subject


def track_name(subject: str, category: str, point: bool) -> str:
    """The track of a subject's behaviour category (state or point)."""
    parts = [p for p in (subject, category) if p]
    name = ": ".join(parts)
    if point:
        return f"{name} {EVENTS}" if name else EVENTS
    return name


def subject_and_category(track: str | None, subject: str | None, point: bool) -> tuple[str, str]:
    """What ``track_name`` made the track from; a track not named so keeps its name as category."""
    if track is None:
        return subject or "", ""
    rest = track
    if point:
        if rest == EVENTS:
            rest = ""
        elif rest.endswith(f" {EVENTS}"):
            rest = rest[: -len(EVENTS) - 1]
    if subject:
        if rest == subject:
            rest = ""
        elif rest.startswith(f"{subject}: "):
            rest = rest[len(subject) + 2 :]
    return subject or "", rest
