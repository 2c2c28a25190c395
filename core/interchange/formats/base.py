"""The one interface every interchange format shares: write a project's labels, read a file back.

Writing receives plain records (``VideoLabels``) and derives seconds from each video's own
timestamps, so every format agrees to the microsecond on where a frame starts. Reading knows
nothing about the project: it returns ``ParsedSpan``s that name their video and class as the
file does, in frames or seconds as the file has them, each with the line or element it came
from. Matching those to the store's videos and classes is ``core.interchange``'s job, so each
format stays a small translation between a file and plain values.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from core.errors import ImportFormatError
from core.media.timebase import duration_s, frame_to_seconds
from core.store.records import Segment, Track, Video

PREDICTED = "predicted"
"""``Span.source`` of a model's event that no human has accepted yet."""


@dataclass(frozen=True)
class Span:
    """One labelled half-open frame range ``[start_frame, end_frame)`` about to be written."""

    class_name: str
    start_frame: int
    end_frame: int
    source: str = "human"
    score: float | None = None
    """A prediction's confidence; None for labels."""
    track: str | None = None
    """The track's name when the project has several tracks; None means the only one."""
    subject: str | None = None
    point: bool = False
    """An event of a point track (one frame)."""
    modifiers: tuple[str, ...] = ()
    comment: str | None = None


@dataclass(frozen=True)
class VideoLabels:
    """One video and the spans to write for it, in start order."""

    video: Video
    segments: tuple[Span, ...]

    def __post_init__(self) -> None:
        # Callers may pass the store's Segment records directly: keep only what formats write.
        spans = tuple(
            s if isinstance(s, Span) else Span(s.class_name, s.start_frame, s.end_frame, str(s.source))
            for s in self.segments
        )
        object.__setattr__(self, "segments", spans)

    @classmethod
    def of(
        cls, video: Video, segments: Iterable[Segment], tracks: Mapping[int, Track] | None = None
    ) -> VideoLabels:
        """The store's segments of a video as spans; with ``tracks`` (several), each names its track."""
        spans = (
            Span(
                s.class_name,
                s.start_frame,
                s.end_frame,
                str(s.source),
                track=None if tracks is None else tracks[s.track_id].name,
                subject=None if tracks is None else tracks[s.track_id].subject,
                point=False if tracks is None else tracks[s.track_id].point,
                modifiers=s.modifiers,
                comment=s.comment,
            )
            for s in segments
        )
        return cls(video, tuple(spans))

    def seconds(self, frame: int) -> float:
        return frame_to_seconds(frame, self.video.timestamps_s, self.video.fps)

    @property
    def frame_count(self) -> int:
        return self.video.best_frame_count

    @property
    def duration_s(self) -> float:
        return duration_s(self.frame_count, self.video.timestamps_s, self.video.fps)

    @property
    def key(self) -> str:
        """The file's stem: how ActivityNet and per-video files name a video."""
        return Path(self.video.path).stem


@dataclass(frozen=True, slots=True)
class VideoRef:
    """How a file names a video; the importer tries path, then content hash, then file name."""

    path: str | None = None
    content_hash: str | None = None
    name: str | None = None
    """A file name or stem ("clip.mp4" or "clip") when the file gives no full path."""

    def describe(self) -> str:
        return self.path or self.name or self.content_hash or "(no video named)"


@dataclass(frozen=True, slots=True)
class ParsedSpan:
    """A label as a file states it: frames when the file has them (they win), else seconds."""

    video: VideoRef
    class_name: str
    where: str
    """Where in the file it came from: "line 12", "TIER 'walk', annotation a3", …"""
    start_frame: int | None = None
    end_frame: int | None = None
    start_s: float | None = None
    end_s: float | None = None
    source: str | None = None
    point: bool = False
    """A point event (BORIS): one frame long, wherever it falls."""
    score: float | None = None
    track: str | None = None
    """The track the file puts the label in (tier, behaviour group, …); None for the default one."""
    subject: str | None = None
    modifiers: tuple[str, ...] = ()
    comment: str | None = None


class Severity(StrEnum):
    ERROR = "error"  # the import cannot go ahead as it is
    WARNING = "warning"  # imported, but adjusted: the user should know


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with the input, said the way a user can find and fix it."""

    file: str
    where: str
    reason: str
    severity: Severity = Severity.ERROR

    def __str__(self) -> str:
        place = f"{self.file}, {self.where}" if self.where else self.file
        return f"{place}: {self.severity.value}: {self.reason}"


MAX_KEPT_PROBLEMS = 1000
"""Per severity and file: beyond this, problems are only counted by kind (a hostile file can
have a million, and listing them costs more than the import)."""

_DIGITS = str.maketrans("", "", "0123456789")


def problem_kind(reason: str) -> str:
    """The reason with its quoted names and its digits blanked, so problems of one kind group
    together (string methods, not a regex: a hostile file can have a million problems)."""
    return "…".join(reason.split("'")[::2]).translate(_DIGITS)


class ProblemLog:
    """Problems in the order found, keeping the first ``limit`` of each severity; the rest are
    counted by (severity, kind) so a summary can still say what they were."""

    def __init__(self, limit: int = MAX_KEPT_PROBLEMS) -> None:
        self.kept: list[Problem] = []
        self.omitted: Counter[tuple[Severity, str]] = Counter()
        self._limit = limit
        self._count: Counter[Severity] = Counter()

    def add(self, problem: Problem) -> None:
        self._count[problem.severity] += 1
        if self._count[problem.severity] <= self._limit:
            self.kept.append(problem)
        else:
            self.omitted[(problem.severity, problem_kind(problem.reason))] += 1

    append = add

    def extend(self, problems: Iterable[Problem]) -> None:
        for problem in problems:
            self.add(problem)

    def merge(self, other: ProblemLog) -> None:
        self.extend(other.kept)
        for key, count in other.omitted.items():
            self._count[key[0]] += count
            self.omitted[key] += count

    def count(self, severity: Severity) -> int:
        return self._count[severity]


@dataclass
class ParsedFile:
    """What one file said, plus the row-level problems found while reading it."""

    path: Path
    spans: list[ParsedSpan] = field(default_factory=list)
    log: ProblemLog = field(default_factory=ProblemLog)

    @property
    def problems(self) -> list[Problem]:
        """The problems kept (see ``MAX_KEPT_PROBLEMS``); ``log`` also counts the rest."""
        return self.log.kept

    @property
    def error_count(self) -> int:
        return self.log.count(Severity.ERROR)

    def problem(self, where: str, reason: str, severity: Severity = Severity.ERROR) -> None:
        self.log.add(Problem(self.path.name, where, reason, severity))


class BadFile(ImportFormatError):
    """The whole file cannot be read; carries the place so a preview can point at it."""

    def __init__(self, path: Path, where: str, reason: str) -> None:
        self.problem = Problem(path.name, where, reason)
        super().__init__(str(self.problem).replace(": error: ", ": ", 1))


class SegmentFormat(Protocol):
    """A format: ``per_video`` ones write one file per video (named by the video's stem)."""

    name: str
    suffix: str
    per_video: bool
    keeps_notes: bool
    """Whether labels' modifiers and comments are written (ActivityNet has no place for them)."""

    def write(self, items: Sequence[VideoLabels], out: Path) -> None: ...

    def read(self, path: Path) -> ParsedFile: ...


SegmentWriter = SegmentFormat
"""The earlier name of the interface, kept for callers written against it."""


FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(text: str) -> str:
    """Neutralise a text cell a spreadsheet would run as a formula (numbers are never passed here).

    A name that already starts with quotes before a formula character gets one more, so
    ``spreadsheet_unsafe`` can always tell an added quote from one that belongs to the name.
    """
    return "'" + text if text.lstrip("'").startswith(FORMULA_PREFIXES) else text


def spreadsheet_unsafe(text: str) -> str:
    """Undo ``spreadsheet_safe`` on import, so a class named "-x" survives a round trip."""
    escaped = text.startswith("'") and text.lstrip("'").startswith(FORMULA_PREFIXES)
    return text[1:] if escaped else text
