"""The bad input users feed importers: each file in tests/corpus gives its exact problem, the
import refuses to commit, and the store is left exactly as it was."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ImportFormatError
from core.interchange import ImportOptions, Overlap, commit_import, plan_import
from core.interchange.formats import FORMATS
from tests.core.interchange_helpers import add_video, label, snapshot

CORPUS = Path(__file__).resolve().parent.parent / "corpus"
UNKNOWN = "is not in this project; create it (--create-classes) or map it to one (--map-classes '{0}=NAME')"

CASES = [
    ("unknown_class.csv", "csv", "line 2", "the class 'jump' " + UNKNOWN.format("jump")),
    ("start_after_end.csv", "csv", "line 2", "it ends (frame 5) before it starts (frame 10)"),
    ("negative_start.csv", "csv", "line 2", "it starts at frame -3, before the video's first frame (0)"),
    ("beyond_end.csv", "csv", "line 2", "it ends at frame 500, past the end of the video (120 frames)"),
    (
        "overlap_same_class.csv",
        "csv",
        "line 3",
        "frames 5–20 overlap another 'walk' label (overlap_same_class.csv, line 2); "
        "merge them with --overlap merge",
    ),
    (
        "overlap_other_class.csv",
        "csv",
        "line 3",
        "frames 5–20 ('background') overlap 'walk' (overlap_other_class.csv, line 2); "
        "a frame can carry one label",
    ),
    (
        "unknown_video.csv",
        "csv",
        "line 2",
        "the video 'nowhere.mp4' is not in this project; add it with 'videos add' first",
    ),
    ("ragged.csv", "csv", "line 3", "the row has 2 cells but the header (line 1) has 4"),
    (
        "wrong_delimiter.csv",
        "csv",
        "line 1",
        "no column named 'class'; the header has 'video class start_frame end_frame' "
        "(is the delimiter right? only one column was found)",
    ),
    ("not_a_number.csv", "csv", "line 2", "start_frame 'zero' is not a number"),
    ("empty.csv", "csv", "", "the file is empty"),
    ("nan.json", "activitynet", "", "NaN is not a number JSON allows; fix or remove it"),
    ("huge_number.json", "activitynet", "", "the number 1e999 is too large; fix or remove it"),
    ("deep.json", "activitynet", "", "the JSON is nested more than 64 levels deep"),
    ("malformed.json", "activitynet", "line 1", "this is not valid JSON (Expecting value)"),
    (
        "not_activitynet.json",
        "activitynet",
        "",
        "this is not ActivityNet JSON (no 'database' or 'results' object)",
    ),
    (
        "external_entity.eaf",
        "eaf",
        "line 2",
        "the file declares a DOCTYPE or entities, which are refused for safety",
    ),
    (
        "billion_laughs.eaf",
        "eaf",
        "line 2",
        "the file declares a DOCTYPE or entities, which are refused for safety",
    ),
    ("malformed.eaf", "eaf", "line 4", "this is not well-formed XML (mismatched tag)"),
    ("deep.eaf", "eaf", "line 1", "the XML is nested more than 64 levels deep"),
    ("missing_slot.eaf", "eaf", "TIER 'walk', ANNOTATION a1", "time slot 'ts9' has no time value"),
    ("unpaired.boris", "boris", "observations['obs1'].events[0]", "'walk' starts but never stops"),
    (
        "bad_range.json",
        "labelstudio",
        "task[0].annotations[0].result[0].ranges[0]",
        "start 'a' is not a frame number",
    ),
    (
        "clip one_labels.csv",
        "frames-csv",
        "line 3",
        "the frame has 2 classes (walk, run); a frame can carry one label",
    ),
]


@pytest.fixture
def project(store):  # type: ignore[no-untyped-def]
    video = add_video(store)
    label(store, video, ("walk", 0, 5), ("run", 60, 70))
    return store


@pytest.mark.parametrize(("name", "fmt", "where", "reason"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_reported_exactly_and_nothing_is_written(project, name, fmt, where, reason) -> None:  # type: ignore[no-untyped-def]
    before = snapshot(project)
    plan = plan_import(project, [CORPUS / name], FORMATS[fmt], ImportOptions())
    assert [(p.file, p.where, p.reason) for p in plan.errors] == [(name, where, reason)]
    with pytest.raises(ImportFormatError, match=r"^Nothing was imported: "):
        commit_import(project, plan)
    assert snapshot(project) == before


@pytest.mark.parametrize("name", ["bom_semicolon.csv", "utf16.csv", "latin1.csv"])
def test_bom_utf16_latin1_and_semicolons_import(project, name: str) -> None:  # type: ignore[no-untyped-def]
    plan = plan_import(project, [CORPUS / name], FORMATS["csv"], ImportOptions(create_classes=True))
    assert plan.problems == [] and plan.new_classes == ["Müde"]
    commit_import(project, plan)
    assert ("Müde", 0, 10) in [(s.class_name, s.start_frame, s.end_frame) for s in project.segments.list(1)]


def test_seconds_off_a_frame_are_snapped_with_a_warning(project) -> None:  # type: ignore[no-untyped-def]
    plan = plan_import(project, [CORPUS / "off_frame_seconds.csv"], FORMATS["csv"])
    assert [str(p) for p in plan.problems] == [
        "off_frame_seconds.csv, line 2: warning: it starts at 0.05 s, which is not on a frame; "
        "snapped to frame 2 (0.0666667 s)"
    ]
    assert plan.can_commit
    assert [(s.start_frame, s.end_frame) for s in plan.videos[0].added] == [(2, 12)]


def test_overlaps_of_one_class_merge_when_asked(project) -> None:  # type: ignore[no-untyped-def]
    plan = plan_import(
        project, [CORPUS / "overlap_same_class.csv"], FORMATS["csv"], ImportOptions(overlap=Overlap.MERGE)
    )
    assert plan.can_commit and [p.severity.value for p in plan.problems] == ["warning"]
    commit_import(project, plan)
    assert next((s.class_name, s.start_frame, s.end_frame) for s in project.segments.list(1)) == (
        "walk",
        0,
        20,
    )


def test_class_variants_and_renames_map_to_project_classes(project, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = tmp_path / "in.csv"
    src.write_text(
        "video,class,start_frame,end_frame\nclip one.mp4,  WALK ,10,20\nclip one.mp4,Laufen,20,30\n"
    )
    plan = plan_import(project, [src], FORMATS["csv"], ImportOptions(class_map={"laufen": "Run"}))
    assert plan.problems == [] and plan.new_classes == []
    assert [s.class_name for s in plan.videos[0].added] == ["walk", "run"]


def test_boris_old_headers_and_point_events(project) -> None:  # type: ignore[no-untyped-def]
    plan = plan_import(
        project, [CORPUS / "boris_old_headers.tsv"], FORMATS["boris"], ImportOptions(create_classes=True)
    )
    assert plan.problems == []
    # 0.5 s is frame 12 on this variable-rate clip; the point event at 1.0 s is one frame (24).
    assert [(s.class_name, s.start_frame, s.end_frame) for s in plan.videos[0].added] == [
        ("Müde", 0, 12),
        ("peck", 24, 25),
    ]


def test_a_bad_file_among_good_ones_blocks_the_whole_import(project, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    good = tmp_path / "good.csv"
    good.write_text("video,class,start_frame,end_frame\nclip one.mp4,walk,30,40\n")
    before = snapshot(project)
    plan = plan_import(project, [good, CORPUS / "ragged.csv"], FORMATS["csv"])
    assert not plan.can_commit
    with pytest.raises(ImportFormatError):
        commit_import(project, plan)
    assert snapshot(project) == before
