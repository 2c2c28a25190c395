"""Hostile label files: problems listed up to a cap and summarised by kind, JSON checked in
linear time and bounded memory, binary or foreign files stopped at once; the store and the
file are left as they were."""

from __future__ import annotations

import json
import os
import random
import tracemalloc
from pathlib import Path

import pytest

from core.interchange import plan_import
from core.interchange.formats import format_for
from core.interchange.formats.base import BadFile
from core.interchange.formats.structured import load_json
from main import main
from tests.core.interchange_helpers import add_video


def _import(capsys: pytest.CaptureFixture[str], db_url: str, fmt: str, path: Path) -> tuple[str, str]:
    before = path.read_bytes()
    code = main(["--db", db_url, "import", "--format", fmt, str(path)])
    out, err = capsys.readouterr()
    assert code != 0
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert path.read_bytes() == before
    return out, err


def _many_entries(path: Path, count: int) -> Path:
    database = {
        f"video_{i:05d}": {"annotations": [{"segment": [1.5, 3.25], "label": "walk"}]} for i in range(count)
    }
    path.write_text(json.dumps({"version": "1.3", "database": database}))
    return path


def test_thousands_of_problems_are_listed_up_to_fifty_then_summed_up_by_kind(
    tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _many_entries(tmp_path / "many.json", 3000)
    out, err = _import(capsys, db_url, "activitynet", path)
    lines = out.splitlines()
    assert len(lines) == 51
    assert lines[0].startswith(
        "many.json, database['video_00000'].annotations[0]: error: the video 'video_00000'"
    )
    assert lines[-1] == (
        "… and 2,950 more problems of the same kinds: "
        "2,950 × the video … is not in this project; add it with … first"
    )
    assert "3,000 problems found" in err


def test_a_plan_keeps_the_first_problems_but_counts_them_all(tmp_path: Path, store) -> None:  # type: ignore[no-untyped-def]
    path = _many_entries(tmp_path / "many.json", 2500)
    plan = plan_import(store, [path], format_for("activitynet"))
    assert len(plan.problems) == 1000
    assert plan.error_count == 2500 and not plan.can_commit


def test_activitynet_is_read_entry_by_entry_with_the_same_result(tmp_path: Path, store) -> None:  # type: ignore[no-untyped-def]
    video = add_video(store, "/v/clip.mp4", frames=300, fps=30.0)
    doc = {
        "version": "1.3",
        "taxonomy": [{"nodeName": "walk"}],
        "database": {"clip": {"path": video.path, "annotations": [{"label": "walk", "frames": [3, 40]}]}},
        "results": {"other": [{"label": "run", "segment": [0, 1]}]},  # the first section wins
    }
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(doc, indent=2))
    parsed = format_for("activitynet").read(path)
    assert [(s.video.path, s.class_name, s.start_frame, s.end_frame) for s in parsed.spans] == [
        ("/v/clip.mp4", "walk", 3, 40)
    ]
    assert parsed.problems == []
    path.write_text('{"database": {"a": {"annotations": []},\n "b": {"annotations": [}}}')
    with pytest.raises(BadFile, match="line 2: this is not valid JSON"):
        format_for("activitynet").read(path)
    path.write_text("[1, 2]")
    with pytest.raises(BadFile, match="this is not ActivityNet JSON"):
        format_for("activitynet").read(path)


@pytest.mark.timeout(60)
def test_a_megabyte_of_escaped_quotes_is_refused_in_one_linear_pass(tmp_path: Path) -> None:
    path = tmp_path / "quotes.json"
    path.write_text('["' + '\\"' * 500_000)  # the old depth check was quadratic here (> 120 s for 200 KB)
    with pytest.raises(BadFile, match="not valid JSON"):
        load_json(path)


def test_nesting_is_counted_outside_strings_only(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text(json.dumps({"a": "[" * 100, "b": '\\"' + "{" * 100, "c": [[1]]}))
    assert load_json(path)["c"] == [[1]]
    path.write_text('{"a": "\\"[", "b": ' + "[" * 65 + "]" * 65 + "}")
    with pytest.raises(BadFile, match="nested more than 64 levels"):
        load_json(path)


def test_one_huge_string_is_read_in_memory_proportional_to_the_file(tmp_path: Path) -> None:
    path = tmp_path / "string.json"
    size = 8 << 20
    path.write_text('{"note": "' + "x" * size + '"}')
    tracemalloc.start()
    try:
        with pytest.raises(BadFile, match="not ActivityNet"):
            format_for("activitynet").read(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 6 * size  # bytes, text, the parsed string: a few copies, not 124 of them


def test_binary_garbage_as_frames_csv_is_one_problem(
    tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "clip_labels.csv"
    path.write_bytes(random.Random(1).randbytes(256 << 10))
    out, _ = _import(capsys, db_url, "frames-csv", path)
    assert out.strip() == "clip_labels.csv: error: this is a binary file, not a text label file"


def test_text_that_is_not_a_frames_csv_stops_after_twenty_bad_rows(
    tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "notes_labels.csv"
    path.write_text("frame,background,walk\n" + "".join(f"{i},yes,no\n" for i in range(5000)))
    out, _ = _import(capsys, db_url, "frames-csv", path)
    lines = out.splitlines()
    assert len(lines) <= 22
    assert "this is not a frames-csv file" in lines[-1]


def test_prose_is_not_a_table(tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "story_labels.csv"
    words = ["once", "upon", "a", "time,", "there", "was"]
    rng = random.Random(2)
    lines = (" ".join(rng.choices(words, k=rng.randrange(1, 9))) for _ in range(5000))
    path.write_text("a,b,c\n" + "\n".join(lines))
    out, _ = _import(capsys, db_url, "frames-csv", path)
    assert len(out.splitlines()) <= 22
    assert "not a table of that kind" in out.splitlines()[-1]
    assert os.path.getsize(path) > 0
