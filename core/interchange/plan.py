"""What an import would do, worked out before anything is written.

``plan_import`` parses the files, matches videos and classes, converts times to frames and checks
every label against its video and its neighbours; the result lists, per video, what will be added,
what existing labels it changes and what is already there (skipped), with every problem tied to
its file and line. A dialog shows it; ``commit_import`` then writes it in one transaction, and
refuses while any problem is an error, so nothing partial is ever committed.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from core.errors import ImportFormatError
from core.interchange.formats import PREDICTED, ParsedSpan, Problem, SegmentFormat, Severity
from core.interchange.formats.base import BadFile, ProblemLog, problem_kind
from core.interchange.frames import span_frames
from core.interchange.matching import ClassMapper, VideoMatcher
from core.store import Store
from core.store.records import Segment, SegmentSource, Video

log = logging.getLogger(__name__)


class Overlap(StrEnum):
    MERGE = "merge"
    REJECT = "reject"


@dataclass(frozen=True)
class ImportOptions:
    class_map: Mapping[str, str] = field(default_factory=dict)
    """File class name → project class name (case and spacing ignored)."""
    create_classes: bool = False
    overlap: Overlap = Overlap.REJECT
    """What to do when two imported labels of the same class share frames."""


@dataclass(frozen=True)
class PlannedSegment:
    class_name: str
    start_frame: int
    end_frame: int
    source: SegmentSource
    file: str
    where: str


@dataclass
class VideoPlan:
    video: Video
    added: list[PlannedSegment] = field(default_factory=list)
    changed: list[Segment] = field(default_factory=list)
    """Existing segments the import overwrites, in whole or in part."""
    skipped: list[PlannedSegment] = field(default_factory=list)
    """Already labelled exactly so."""

    def summary(self) -> str:
        return (
            f"{self.video.path}: {len(self.added)} added, {len(self.changed)} changed, "
            f"{len(self.skipped)} skipped"
        )


@dataclass
class ImportPlan:
    videos: list[VideoPlan]
    problems: list[Problem]
    """The first problems of each severity (up to ``MAX_KEPT_PROBLEMS``); ``omitted`` counts the rest."""
    new_classes: list[str]
    omitted: Counter[tuple[Severity, str]] = field(default_factory=Counter)
    """Problems beyond those kept, by (severity, kind)."""

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.ERROR]

    @property
    def error_count(self) -> int:
        return len(self.errors) + sum(
            n for (severity, _), n in self.omitted.items() if severity is Severity.ERROR
        )

    @property
    def can_commit(self) -> bool:
        return self.error_count == 0

    def problem_lines(self, shown: int = 50) -> list[str]:
        """The first ``shown`` problems, then one line that groups all the others by kind."""
        lines = [str(p) for p in self.problems[:shown]]
        rest: Counter[str] = Counter(problem_kind(p.reason) for p in self.problems[shown:])
        for (_, kind), count in self.omitted.items():
            rest[kind] += count
        if rest:
            total = sum(rest.values())
            kinds = "; ".join(f"{count:,} × {kind}" for kind, count in rest.most_common(5))
            more = f"; and {len(rest) - 5} other kinds" if len(rest) > 5 else ""
            lines.append(f"… and {total:,} more problems of the same kinds: {kinds}{more}")
        return lines

    @property
    def added(self) -> int:
        return sum(len(v.added) for v in self.videos)


def plan_import(
    store: Store, files: Sequence[Path], fmt: SegmentFormat, options: ImportOptions | None = None
) -> ImportPlan:
    options = options or ImportOptions()
    matcher = VideoMatcher(store.videos.list())
    mapper = ClassMapper(store.classes.list(), options.class_map, options.create_classes)
    problems = log = ProblemLog()
    wanted: dict[int, list[PlannedSegment]] = {}
    videos: dict[int, Video] = {}
    for path in files:
        try:
            parsed = fmt.read(Path(path))
        except BadFile as exc:
            problems.append(exc.problem)
            continue
        except ImportFormatError as exc:
            problems.append(Problem(Path(path).name, "", str(exc)))
            continue
        log.merge(parsed.log)
        if not parsed.spans and not parsed.problems:
            problems.append(Problem(parsed.path.name, "", "the file holds no labels", Severity.WARNING))
        reported: set[str] = set()
        for span in parsed.spans:
            planned = _check(span, parsed.path.name, matcher, mapper, problems, reported)
            if planned is not None:
                video, segment = planned
                videos[video.id] = video
                wanted.setdefault(video.id, []).append(segment)
    plans = [_video_plan(store, videos[vid], segs, options.overlap, problems) for vid, segs in wanted.items()]
    return ImportPlan(plans, log.kept, list(mapper.new.values()), log.omitted)


def _check(
    span: ParsedSpan,
    file: str,
    matcher: VideoMatcher,
    mapper: ClassMapper,
    problems: ProblemLog,
    reported: set[str],
) -> tuple[Video, PlannedSegment] | None:
    """The span as a planned segment of a video, or None after recording why not."""
    video, why = matcher.match(span.video)
    if video is None:
        if why not in reported:  # once per file, not once per label
            reported.add(why)
            problems.append(Problem(file, span.where, why))
        return None
    class_name, why = mapper.resolve(span.class_name)
    if class_name is None:
        if why not in reported:
            reported.add(why)
            problems.append(Problem(file, span.where, why))
        return None
    start, end, warnings = span_frames(span, video)
    problems.extend(Problem(file, span.where, w, Severity.WARNING) for w in warnings)
    reason = _range_problem(start, end, video)
    if reason or start is None or end is None:
        problems.append(Problem(file, span.where, reason))
        return None
    return video, PlannedSegment(class_name, start, end, _source(span.source), file, span.where)


def _range_problem(start: int | None, end: int | None, video: Video) -> str:
    if start is None:
        return "the label has no start"
    if end is None:
        return "the label has no end"
    if start < 0:
        return f"it starts at frame {start}, before the video's first frame (0)"
    if end <= start:
        return f"it ends (frame {end}) before it starts (frame {start})"
    limit = video.best_frame_count
    if end > limit:
        return f"it ends at frame {end}, past the end of the video ({limit} frames)"
    return ""


def _source(text: str | None) -> SegmentSource:
    if text is None or text.strip().casefold() in ("", SegmentSource.HUMAN.value):
        return SegmentSource.HUMAN
    if text.strip().casefold() in (SegmentSource.ACCEPTED.value, PREDICTED):
        return SegmentSource.ACCEPTED
    return SegmentSource.HUMAN


def _video_plan(
    store: Store, video: Video, wanted: list[PlannedSegment], overlap: Overlap, problems: ProblemLog
) -> VideoPlan:
    plan = VideoPlan(video)
    kept = _resolve_overlaps(sorted(wanted, key=lambda s: (s.start_frame, s.end_frame)), overlap, problems)
    existing = store.segments.list(video.id)
    changed: dict[int, Segment] = {}
    for seg in kept:
        covering = [
            e
            for e in existing
            if e.class_name == seg.class_name
            and e.start_frame <= seg.start_frame
            and e.end_frame >= seg.end_frame
        ]
        if covering:
            plan.skipped.append(seg)
            continue
        plan.added.append(seg)
        for e in existing:
            if (
                e.start_frame < seg.end_frame
                and e.end_frame > seg.start_frame
                and e.class_name != seg.class_name
            ):
                changed[e.id] = e
    plan.changed = sorted(changed.values(), key=lambda e: e.start_frame)
    return plan


def _resolve_overlaps(
    segments: list[PlannedSegment], overlap: Overlap, problems: ProblemLog
) -> list[PlannedSegment]:
    """Same-class overlaps merge or are rejected; different classes on one frame are always an error."""
    kept: list[PlannedSegment] = []
    for seg in segments:
        clash = next((k for k in reversed(kept) if k.end_frame > seg.start_frame), None)
        if clash is None:
            kept.append(seg)
            continue
        if clash.class_name != seg.class_name:
            problems.append(
                Problem(
                    seg.file,
                    seg.where,
                    f"frames {seg.start_frame}–{seg.end_frame} ('{seg.class_name}') overlap "
                    f"'{clash.class_name}' ({clash.file}, {clash.where}); a frame can carry one label",
                )
            )
        elif overlap is Overlap.MERGE:
            merged = PlannedSegment(
                clash.class_name,
                clash.start_frame,
                max(clash.end_frame, seg.end_frame),
                clash.source,
                clash.file,
                f"{clash.where} + {seg.where}",
            )
            kept[kept.index(clash)] = merged
            problems.append(
                Problem(
                    seg.file,
                    seg.where,
                    f"merged with the overlapping '{seg.class_name}' at {clash.where}",
                    Severity.WARNING,
                )
            )
        else:
            problems.append(
                Problem(
                    seg.file,
                    seg.where,
                    f"frames {seg.start_frame}–{seg.end_frame} overlap another '{seg.class_name}' label "
                    f"({clash.file}, {clash.where}); merge them with --overlap merge",
                )
            )
    return kept
