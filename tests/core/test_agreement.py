"""Agreement numbers against cases worked by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.labels.agreement import (
    agreement,
    agreement_by_track,
    cohen_kappa,
    pair_agreement,
    report_lines_by_track,
)


def test_kappa_of_the_textbook_table() -> None:
    # 50 items: both yes 20, A yes/B no 5, A no/B yes 10, both no 15.
    # p_o = 35/50 = 0.7; p_e = 0.5*0.6 + 0.5*0.4 = 0.5; kappa = 0.2/0.5 = 0.4.
    a = np.array([1] * 20 + [1] * 5 + [0] * 10 + [0] * 15)
    b = np.array([1] * 20 + [0] * 5 + [1] * 10 + [0] * 15)
    assert cohen_kappa(a, b, 2) == pytest.approx(0.4)


def test_identical_codings_agree_perfectly_and_chance_level_is_zero() -> None:
    same = [("walk", 10, 30), ("run", 50, 60)]
    (pair,) = agreement({"ann": same, "bob": list(same)}, 100)
    assert pair.kappa == pytest.approx(1.0)
    assert pair.kappa_per_class == {"run": pytest.approx(1.0), "walk": pytest.approx(1.0)}
    assert pair.segment_f1 == {0.1: 1.0, 0.25: 1.0, 0.5: 1.0}
    # Independent halves: A labels the first half, B every other frame -> p_o = 0.5 = p_e.
    a = [("walk", 0, 50)]
    b = [("walk", i, i + 1) for i in range(0, 100, 2)]
    assert pair_agreement("a", a, "b", b, 100).kappa == pytest.approx(0.0)


def test_a_worked_pair_of_coders() -> None:
    """100 frames. Ann: walk 0–40, run 60–80. Bob: walk 10–40, run 70–100.

    Frames: both walk 30 (10–40), Ann walk/Bob none 10 (0–10), both none 20 (40–60),
    Ann run/Bob none 10 (60–70), both run 10 (70–80), Ann none/Bob run 20 (80–100).
    Overall: p_o = (30+20+10)/100 = .6. Marginals: Ann none .4 walk .4 run .2; Bob none .4
    walk .3 run .3; p_e = .16 + .12 + .06 = .34; kappa = .26/.66.
    Walk vs not: both 30, Ann only 10, neither 60: p_o .9, p_e .4*.3 + .6*.7 = .54, kappa .36/.46.
    Run vs not: both 10, Ann only 10, Bob only 20, neither 60: p_o .7, p_e .2*.3 + .8*.7 = .62,
    kappa .08/.38.
    Segments: walk tIoU 30/40 = .75, run tIoU 10/40 = .25: F1@0.1 = F1@0.25 = 1; at 0.5 one of
    two matches on each side, F1 = .5.
    """
    pair = pair_agreement(
        "ann", [("walk", 0, 40), ("run", 60, 80)], "bob", [("walk", 10, 40), ("run", 70, 100)], 100
    )
    assert pair.kappa == pytest.approx(0.26 / 0.66)
    assert pair.kappa_per_class["walk"] == pytest.approx(0.36 / 0.46)
    assert pair.kappa_per_class["run"] == pytest.approx(0.08 / 0.38)
    assert pair.segment_f1 == {0.1: 1.0, 0.25: 1.0, 0.5: pytest.approx(0.5)}


def test_pairs_cover_every_two_coders() -> None:
    pairs = agreement({"c": [], "a": [("x", 0, 5)], "b": [("x", 0, 5)]}, 10)
    assert [(p.coder_a, p.coder_b) for p in pairs] == [("a", "b"), ("a", "c"), ("b", "c")]
    assert math.isclose(pairs[0].kappa, 1.0)


def test_each_track_is_compared_on_its_own() -> None:
    """100 frames, two tracks. Track "behaviour": Ann walk 0–40, Bob walk 10–40 (the worked
    walk-vs-not case: kappa .36/.46; tIoU .75, so F1 1 at every threshold). Track "head": Ann up
    50–60, Bob nothing: p_o .9, both marginals put Bob at all-unlabelled, so p_e = .9 and kappa 0;
    no segment of Bob's matches Ann's, F1 0. A frame labelled in both tracks counts in each."""
    codings = {
        "bob": [("walk", 10, 40, "behaviour")],
        "ann": [("up", 50, 60, "head"), ("walk", 0, 40, "behaviour")],
    }
    by_track = agreement_by_track(codings, 100, ["behaviour", "head", "unused"])
    assert list(by_track) == ["behaviour", "head"]  # the project's order; a track nobody used is left out
    (walk,) = by_track["behaviour"]
    assert (walk.coder_a, walk.coder_b) == ("ann", "bob")
    assert walk.kappa == pytest.approx(0.36 / 0.46)
    assert walk.segment_f1 == {0.1: 1.0, 0.25: 1.0, 0.5: 1.0}
    (head,) = by_track["head"]
    assert head.kappa == pytest.approx(0.0)
    assert head.kappa_per_class == {"up": pytest.approx(0.0)}
    assert head.segment_f1 == {0.1: 0.0, 0.25: 0.0, 0.5: 0.0}
    lines = report_lines_by_track(by_track)
    assert lines[0] == "track behaviour:"
    assert lines[1].startswith("  ann vs bob: kappa 0.783")
    assert "track head:" in lines
