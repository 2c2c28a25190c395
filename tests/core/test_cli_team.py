"""Team mode from the command line: signed edits and their log, restoring, the claim queue,
independent codings and the agreement between them."""

from __future__ import annotations

import numpy as np
import pytest

from core.store import open_store
from main import main


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def shared(db_url: str) -> str:
    with open_store(db_url) as store:
        for name in ("a", "b"):
            video = store.videos.add(f"/nonexistent/{name}.avi", f"h{name}", 64, 48, 25.0, 100)
            store.videos.set_index(video.id, 100, np.arange(100) / 25.0)
        store.classes.add("walk")
    return db_url


def test_log_shows_who_changed_what_and_restore_puts_it_back(
    shared: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("C3D_LABELLER_ANNOTATOR", "ann")
    with open_store(shared) as store:
        from core.project import Project, actions

        actions.label_range(Project(store, "ann"), 1, 10, 40, store.classes.by_name("walk").id)  # type: ignore[union-attr]
        actions.clear_range(Project(store, "bob"), 1, 0, 100)
    code, out, err = _run(capsys, "--db", shared, "log", "1")
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 2
    assert "\tann\tLabel frames\t10–40\tnothing → walk 10–40" in lines[0]
    assert "\tbob\tDelete label\t0–100\twalk 10–40 → nothing" in lines[1]
    entry = lines[1].split("\t")[0]
    code, out, err = _run(capsys, "--db", shared, "--annotator", "carol", "log", "restore", entry)
    assert code == 0, err
    with open_store(shared) as store:
        assert [(s.class_name, s.start_frame, s.end_frame) for s in store.segments.list(1)] == [
            ("walk", 10, 40)
        ]
        assert store.edit_log.list(1)[-1].annotator == "carol"
    code, _, err = _run(capsys, "--db", shared, "log", "restore", "999")
    assert code != 0 and err.count("\n") == 1 and "no edit log entry 999" in err


def test_claim_next_hands_out_each_video_once(shared: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "--db", shared, "--annotator", "ann", "claim", "next")
    assert code == 0 and out.startswith("1\t") and "claimed by ann" in out
    assert _run(capsys, "--db", shared, "--annotator", "ann", "claim", "next")[1].startswith(
        "1\t"
    )  # still hers
    assert _run(capsys, "--db", shared, "--annotator", "bob", "claim", "next")[1].startswith("2\t")
    assert (
        _run(capsys, "--db", shared, "--annotator", "carol", "claim", "next")[1] == "nothing left to label\n"
    )
    assert _run(capsys, "--db", shared, "--annotator", "ann", "claim", "done", "1")[0] == 0
    out = _run(capsys, "--db", shared, "claim", "list")[1]
    assert out.splitlines()[0].split("\t")[:3] == ["1", "labelled", "ann"]
    assert out.splitlines()[1].split("\t")[:3] == ["2", "to_label", "bob"]


def test_two_codings_and_their_agreement(shared: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(capsys, "--db", shared, "segments", "add", "1", "0", "40", "walk")[0] == 0
    assert _run(capsys, "--db", shared, "--annotator", "ann", "coding", "save", "1", "--clear")[0] == 0
    with open_store(shared) as store:
        assert store.segments.list(1) == []  # the next coder starts blank
    assert _run(capsys, "--db", shared, "segments", "add", "1", "10", "40", "walk")[0] == 0
    assert _run(capsys, "--db", shared, "--annotator", "bob", "coding", "save", "1")[0] == 0
    code, out, err = _run(capsys, "--db", shared, "evaluate", "--agreement", "1")
    assert code == 0, err
    # 100 frames: both walk 30, Ann alone 10, neither 60: p_o .9, p_e .4*.3+.6*.7 = .54.
    assert out.splitlines()[0] == "ann vs bob: kappa 0.783  F1@0.1 1.000  F1@0.25 1.000  F1@0.5 1.000"
    assert out.splitlines()[1] == "  walk: kappa 0.783"
    assert _run(capsys, "--db", shared, "--annotator", "bob", "coding", "use", "1", "ann")[0] == 0
    with open_store(shared) as store:
        assert [(s.start_frame, s.end_frame) for s in store.segments.list(1)] == [(0, 40)]
    code, _, err = _run(capsys, "--db", shared, "evaluate", "--agreement", "2")
    assert code != 0 and "agreement needs two" in err


def test_agreement_is_reported_per_track(shared: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(capsys, "--db", shared, "tracks", "add", "head")[0] == 0
    assert _run(capsys, "--db", shared, "classes", "add", "up", "--track", "head")[0] == 0
    for coder, (start, end) in (("ann", (0, 40)), ("bob", (10, 40))):
        assert _run(capsys, "--db", shared, "segments", "add", "1", str(start), str(end), "walk")[0] == 0
        head = ("segments", "add", "1", "50", "60", "up", "--track", "head")
        assert _run(capsys, "--db", shared, *head)[0] == 0
        assert _run(capsys, "--db", shared, "--annotator", coder, "coding", "save", "1", "--clear")[0] == 0
    code, out, err = _run(capsys, "--db", shared, "evaluate", "--agreement", "1")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[:3] == [
        "track behaviour:",
        "  ann vs bob: kappa 0.783  F1@0.1 1.000  F1@0.25 1.000  F1@0.5 1.000",
        "    walk: kappa 0.783",
    ]
    assert lines[3:] == [
        "track head:",
        "  ann vs bob: kappa 1.000  F1@0.1 1.000  F1@0.25 1.000  F1@0.5 1.000",
        "    up: kappa 1.000",
    ]
