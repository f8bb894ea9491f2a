"""Calibration statistics against values computed by hand."""

import pytest

from qa_service.review.calibration import agreement


def test_two_reviewers_four_items():
    # items: a/a, a/a, b/b, b/a. Coincidences: o_aa = 4, o_bb = 2, o_ab = o_ba = 1; n = 8,
    # n_a = 5, n_b = 3. D_o = 2/8; D_e = 2 * 5 * 3 / (8 * 7) = 30/56; alpha = 1 - D_o/D_e
    # = 1 - 112/240 = 0.5333. Three of four items alike: 0.75.
    result = agreement([["a", "a", "b", "b"], ["a", "a", "b", "a"]])
    assert result.items == 4
    assert result.percent == 0.75
    assert result.alpha == pytest.approx(1 - 112 / 240, abs=1e-4)


def test_missing_judgements_and_three_reviewers():
    # item 1: x x x (alike); item 2: x y - (two judged, unlike); item 3: - - y (one judge: not
    # pairable, left out). Pairable values: 3 + 2 = 5; o_xx = 6/2 = 3, o_xy = o_yx = 1;
    # n_x = 4, n_y = 1, n = 5. D_o = 2/5; D_e = 2 * 4 * 1 / (5 * 4) = 8/20; alpha = 1 - 1 = 0.
    result = agreement([["x", "x", None], ["x", "y", None], ["x", None, "y"]])
    assert result.items == 2 and result.percent == 0.5
    assert result.alpha == pytest.approx(0.0, abs=1e-4)


def test_everyone_alike_has_no_alpha_to_compute():
    result = agreement([["hit", "hit"], ["hit", "hit"]])
    assert (result.percent, result.alpha) == (1.0, None)
    assert agreement([["hit"], [None]]).items == 0
