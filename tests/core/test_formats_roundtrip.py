"""Every format: export → import gives the same segments, frames exact.

The property tests run on plain records (no store), over random non-overlapping segment sets on
a variable-frame-rate video, with unicode class names holding commas, quotes, newlines and
spreadsheet formula characters. The store tests go through the whole planner and one commit.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.interchange import ImportOptions, commit_import, plan_import
from core.interchange.export import export_labels
from core.interchange.formats import FORMATS, Span, VideoLabels
from core.interchange.formats.base import VideoRef
from core.interchange.frames import span_frames
from core.interchange.matching import VideoMatcher
from core.store.classes import name_key
from core.store.records import BACKGROUND, Video
from tests.core.interchange_helpers import CLIP, HASH, add_video, label, snapshot, vfr_times

FRAMES = 200
VIDEO = Video(1, CLIP, HASH, 160, 120, 30.0, FRAMES, FRAMES, vfr_times(FRAMES, 30.0))
SEGMENT_FORMATS = sorted(FORMATS)

_chars = st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufeff") | st.sampled_from(
    list(",\"'\n;=+-@|")
)
class_names = (
    st.text(_chars, min_size=1, max_size=12)
    .map(lambda t: t.strip())
    .filter(
        lambda t: t and name_key(t) not in ("", name_key(BACKGROUND)) and t.lower() not in ("frame", "index")
    )
)


@st.composite
def segment_sets(draw: st.DrawFn) -> list[Span]:
    names = draw(st.lists(class_names, min_size=1, max_size=4, unique_by=name_key))
    cuts = sorted(draw(st.sets(st.integers(0, FRAMES), min_size=2, max_size=12)))
    spans = []
    for start, end in itertools.pairwise(cuts):
        choice = draw(st.integers(-1, len(names) - 1))
        if choice >= 0:
            spans.append(Span(names[choice], start, end))
    return _canonical(spans)


def _canonical(spans: list[Span]) -> list[Span]:
    """Touching spans of one class are one segment, as the store keeps them."""
    out: list[Span] = []
    for s in spans:
        if out and out[-1].class_name == s.class_name and out[-1].end_frame == s.start_frame:
            out[-1] = Span(s.class_name, out[-1].start_frame, s.end_frame)
        else:
            out.append(s)
    return out


def _read_back(fmt_name: str, spans: list[Span], folder: Path) -> list[tuple[str, int, int]]:
    fmt = FORMATS[fmt_name]
    files = export_labels([VideoLabels(VIDEO, tuple(spans))], fmt, folder)
    matcher = VideoMatcher([VIDEO])
    got = []
    for path in files:
        parsed = fmt.read(path)
        assert parsed.problems == []
        for span in parsed.spans:
            assert matcher.match(span.video)[0] == VIDEO
            start, end, warnings = span_frames(span, VIDEO)
            assert warnings == []
            got.append((span.class_name, start, end))
    return sorted(got, key=lambda g: (g[1], g[2]))


@pytest.mark.parametrize("fmt_name", SEGMENT_FORMATS)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spans=segment_sets())
def test_any_segment_set_survives_a_round_trip(fmt_name: str, spans: list[Span], tmp_path: Path) -> None:
    folder = tmp_path / f"{fmt_name}-{abs(hash(tuple(spans)))}"
    got = _read_back(fmt_name, spans, folder)
    expected = [(s.class_name, s.start_frame, s.end_frame) for s in spans]
    assert got == expected


def test_formula_names_are_escaped_in_csv_but_numbers_are_not(tmp_path: Path) -> None:
    spans = [Span("=SUM(A1)", 0, 10), Span("-1", 10, 20), Span("'@x", 20, 30)]
    out = tmp_path / "labels.csv"
    FORMATS["csv"].write([VideoLabels(VIDEO, tuple(spans))], out)
    text = out.read_text(encoding="utf-8")
    assert "'=SUM(A1)" in text and ",'-1," in text and "''@x" in text
    assert ",0,10," in text  # frame numbers untouched
    assert [s.class_name for s in FORMATS["csv"].read(out).spans] == ["=SUM(A1)", "-1", "'@x"]


@pytest.mark.parametrize("fmt_name", SEGMENT_FORMATS)
def test_store_to_store_round_trip_is_frame_exact(fmt_name: str, tmp_path: Path, store) -> None:  # type: ignore[no-untyped-def]
    from core.store import open_store

    video = add_video(store)
    label(
        store, video, ('walk, "slow"', 3, 17), ("=run", 17, 18), ("Grooming ü", 40, 119), (BACKGROUND, 0, 3)
    )
    files = export_labels(
        [VideoLabels.of(video, store.segments.list(video.id))], FORMATS[fmt_name], tmp_path / "out"
    )
    with open_store(f"sqlite:///{tmp_path / 'other.sqlite3'}") as other:
        add_video(other, path="/elsewhere/clip one.mp4")
        plan = plan_import(other, files, FORMATS[fmt_name], ImportOptions(create_classes=True))
        assert plan.errors == []
        commit_import(other, plan)
        got = [(s.class_name, s.start_frame, s.end_frame) for s in other.segments.list(1)]
    expected = [(s.class_name, s.start_frame, s.end_frame) for s in store.segments.list(video.id)]
    if fmt_name == "activitynet":  # background is the absence of an action there
        expected = [e for e in expected if e[0] != BACKGROUND]
    assert got == expected


def test_reimporting_an_export_changes_nothing_and_says_skipped(tmp_path: Path, store) -> None:  # type: ignore[no-untyped-def]
    video = add_video(store)
    label(store, video, ("walk", 3, 17), ("run", 20, 30))
    files = export_labels([VideoLabels.of(video, store.segments.list(video.id))], FORMATS["csv"], tmp_path)
    before = snapshot(store)
    plan = plan_import(store, files, FORMATS["csv"])
    assert [(len(v.added), len(v.changed), len(v.skipped)) for v in plan.videos] == [(0, 0, 2)]
    commit_import(store, plan)
    assert snapshot(store) == before


def test_import_reports_what_it_changes(tmp_path: Path, store) -> None:  # type: ignore[no-untyped-def]
    video = add_video(store)
    label(store, video, ("walk", 0, 50))
    src = tmp_path / "in.csv"
    src.write_text(f'video,class,start_frame,end_frame\n"{CLIP.replace(chr(34), 2 * chr(34))}",run,10,20\n')
    plan = plan_import(store, [src], FORMATS["csv"], ImportOptions(create_classes=True))
    assert plan.new_classes == ["run"]
    [vp] = plan.videos
    assert (len(vp.added), [c.class_name for c in vp.changed], len(vp.skipped)) == (1, ["walk"], 0)
    commit_import(store, plan)
    assert [(s.class_name, s.start_frame, s.end_frame) for s in store.segments.list(video.id)] == [
        ("walk", 0, 10),
        ("run", 10, 20),
        ("walk", 20, 50),
    ]


def test_video_is_matched_by_hash_then_name(store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    video = add_video(store)
    matcher = VideoMatcher(store.videos.list())
    assert matcher.match(VideoRef(path="/moved/x.mp4", content_hash=HASH))[0] == video
    assert matcher.match(VideoRef(name="CLIP ONE.mp4"))[0] == video
    assert matcher.match(VideoRef(name="clip one"))[0] == video
    add_video(store, path="/other/clip one.mp4", digest="fp1:00")
    found, why = VideoMatcher(store.videos.list()).match(VideoRef(name="clip one.mp4"))
    assert found is None and "ambiguous" in why
