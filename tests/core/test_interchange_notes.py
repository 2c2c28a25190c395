"""Tracks, point events, modifiers and comments through every format, as property tests.

Like ``test_formats_roundtrip``, on plain records: random tracks (state and point, with and
without subjects), labels carrying random modifiers and comments (unicode, commas, quotes,
newlines, formula characters), written and read back. Each format must give back exactly what
it can carry; ActivityNet, which has no place for modifiers or comments, says so on export.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from core.interchange.export import dropped_notes, export_labels
from core.interchange.formats import FORMATS, Span, VideoLabels
from core.interchange.formats.groups import subject_and_category, track_name
from core.interchange.frames import span_frames
from core.store.classes import name_key
from core.store.records import BACKGROUND
from tests.core.test_formats_roundtrip import VIDEO, _chars, class_names

FRAMES = VIDEO.best_frame_count

_text = st.text(_chars, min_size=1, max_size=12).map(lambda t: " ".join(t.split())).filter(bool)
modifier_values = _text.filter(lambda t: "|" not in t and t.casefold() not in ("none", "na"))
comments = st.text(_chars, min_size=1, max_size=30).map(str.strip).filter(lambda t: t and t != "NA")
track_names = _text.filter(lambda t: "/" not in t)

Row = tuple[str | None, str | None, bool, str, int, int, tuple[str, ...], str | None]
"""What a user checks of a label: track, subject, point, class, start, end, modifiers, comment."""


@st.composite
def notes(draw: st.DrawFn, pool: list[str]) -> tuple[tuple[str, ...], str | None]:
    modifiers = tuple(draw(st.lists(st.sampled_from(pool), max_size=2, unique=True))) if pool else ()
    return modifiers, draw(st.none() | comments)


@st.composite
def track_spans(
    draw: st.DrawFn, track: str | None, subject: str | None, point: bool, pool: list[str]
) -> list[Span]:
    names = draw(st.lists(class_names, min_size=1, max_size=3, unique_by=name_key))
    names = [n for n in names if n != track] or ["x"]
    if point:
        frames = sorted(draw(st.sets(st.integers(0, FRAMES - 1), min_size=1, max_size=6)))
        return [
            Span(draw(st.sampled_from(names)), f, f + 1, track=track, subject=subject, point=True)
            for f in frames
        ]
    cuts = sorted(draw(st.sets(st.integers(0, FRAMES), min_size=2, max_size=10)))
    spans: list[Span] = []
    for start, end in itertools.pairwise(cuts):
        choice = draw(st.integers(-1, len(names) - 1))
        if choice < 0:
            continue
        modifiers, comment = draw(notes(pool))
        span = Span(
            names[choice], start, end, track=track, subject=subject, modifiers=modifiers, comment=comment
        )
        last = spans[-1] if spans else None
        if last is not None and last.end_frame == start and _same_label(last, span):
            spans[-1] = Span(
                span.class_name,
                last.start_frame,
                end,
                track=track,
                subject=subject,
                modifiers=modifiers,
                comment=comment,
            )
        else:
            spans.append(span)
    return spans or [Span(names[0], cuts[0], cuts[1], track=track, subject=subject)]


def _same_label(a: Span, b: Span) -> bool:
    """Touching labels equal in all of these are one segment in the store."""
    return (a.class_name, a.modifiers, a.comment) == (b.class_name, b.modifiers, b.comment)


@st.composite
def labelled(draw: st.DrawFn, boris: bool = False) -> list[Span]:
    """No tracks (one default track), or one to three named tracks of either kind."""
    pool = draw(st.lists(modifier_values, max_size=3, unique=True))
    count = draw(st.sampled_from([0, 1, 2, 3]))  # one named track: a project whose other tracks are empty
    if count == 0:
        return draw(track_spans(None, None, False, pool))
    spans: list[Span] = []
    taken: set[str] = set()
    while len(taken) < count:  # each track holds labels: a file shows only tracks that do
        point = draw(st.booleans())
        if boris:  # BORIS names a track by its subject and behaviour category
            subject = draw(st.sampled_from(["m1", "m2", None]))
            name = track_name(subject or "", draw(_text.filter(lambda t: ":" not in t)), point)
        else:
            subject = draw(st.none() | st.sampled_from(["m1", "mouse two"]))
            name = draw(track_names)
        if name.casefold() not in taken:
            taken.add(name.casefold())
            spans.extend(draw(track_spans(name, subject, point, pool)))
    return spans


def _rows(spans: list[Span]) -> list[Row]:
    return sorted(
        (s.track, s.subject, s.point, s.class_name, s.start_frame, s.end_frame, s.modifiers, s.comment)
        for s in spans
    )


def _read_back(fmt_name: str, spans: list[Span], folder: Path) -> list[Row]:
    """Export to ``folder`` (or to that file, when it has a suffix) and read every file back."""
    fmt = FORMATS[fmt_name]
    got: list[Row] = []
    for path in export_labels([VideoLabels(VIDEO, tuple(spans))], fmt, folder):
        parsed = fmt.read(path)
        assert parsed.problems == []
        for span in parsed.spans:
            start, end, warnings = span_frames(span, VIDEO)
            assert warnings == [] and start is not None and end is not None
            got.append(
                (
                    span.track,
                    span.subject,
                    span.point,
                    span.class_name,
                    start,
                    end,
                    span.modifiers,
                    span.comment,
                )
            )
    return sorted(got)


def _expected(fmt_name: str, spans: list[Span]) -> list[Row]:
    rows = _rows(spans)
    if fmt_name == "frames-csv":  # a block of columns per track: no subject
        rows = sorted((t, None, p, c, s, e, m, n) for t, _, p, c, s, e, m, n in rows)
    if fmt_name == "activitynet":  # one label per segment; background is no action there
        rows = sorted((t, sub, p, c, s, e, (), None) for t, sub, p, c, s, e, _, _ in rows if c != BACKGROUND)
    return rows


@pytest.mark.parametrize("fmt_name", sorted(set(FORMATS) - {"boris"}))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spans=labelled())
def test_tracks_points_modifiers_and_comments_survive_a_round_trip(
    fmt_name: str, spans: list[Span], tmp_path: Path
) -> None:
    folder = tmp_path / f"{fmt_name}-{abs(hash(tuple(spans)))}"
    assert _read_back(fmt_name, spans, folder) == _expected(fmt_name, spans)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spans=labelled(boris=True))
def test_boris_keeps_subjects_groups_points_modifiers_and_comments(spans: list[Span], tmp_path: Path) -> None:
    folder = tmp_path / f"boris-{abs(hash(tuple(spans)))}"
    assert _read_back("boris", spans, folder) == _expected("boris", spans)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spans=labelled(boris=True))
def test_a_boris_project_export_reads_back_the_same(spans: list[Span], tmp_path: Path) -> None:
    """BORIS knows a behaviour by its code: one class name, one category and kind."""
    kinds: dict[str, set[tuple[str, bool]]] = {}
    for s in spans:
        kinds.setdefault(s.class_name, set()).add(
            (subject_and_category(s.track, s.subject, s.point)[1], s.point)
        )
    assume(all(len(k) == 1 for k in kinds.values()))
    out = tmp_path / f"boris-{abs(hash(tuple(spans)))}" / "labels.boris"
    out.parent.mkdir(exist_ok=True)
    assert _read_back("boris", spans, out) == _expected("boris", spans)


def test_activitynet_says_it_drops_modifiers_and_comments() -> None:
    spans = (
        Span("walk", 0, 10, modifiers=("fast",)),
        Span("rest", 10, 20, comment="tired"),
        Span("x", 20, 30),
    )
    items = [VideoLabels(VIDEO, spans)]
    assert dropped_notes(items, FORMATS["activitynet"]) == (
        "2 labels carry modifiers or a comment, which the activitynet format has no place for: "
        "they were not written (csv, frames-csv, boris, eaf and labelstudio keep them)."
    )
    assert all(dropped_notes(items, FORMATS[f]) is None for f in FORMATS if f != "activitynet")


def test_a_class_with_a_slash_stays_whole_in_activitynet(tmp_path: Path) -> None:
    """Found by the round-trip property: a one-track project's class "a/b" read back as track "a"."""
    spans = [Span("a/b", 0, 10), Span("/", 10, 20)]
    assert _read_back("activitynet", spans, tmp_path) == _expected("activitynet", spans)
