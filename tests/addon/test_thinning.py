"""Thinning a take without Blender (addon/knoblink/thinning.py): the reduction
driven by a plain evaluator, its tolerance, and that it ends."""

import math
import random

import pytest

from knoblink import thinning


def check(frames, values, evaluate, fraction=0.01):
    tol = thinning.tolerance(values, fraction)
    kept = thinning.reduce(values, tol, evaluate)
    curve = evaluate(kept)
    assert kept == sorted(set(kept)) and kept[0] == 0 and kept[-1] == len(values) - 1
    assert max(abs(c - v) for c, v in zip(curve, values)) <= tol
    return kept


def test_a_smooth_sweep_keeps_few_keys():
    frames = list(range(1, 121))
    values = [math.sin(f / 120 * math.pi) * 3 for f in frames]
    kept = check(frames, values, thinning.linear(frames, values))
    assert len(kept) <= 20, len(kept)


def test_a_ramp_and_a_constant_keep_their_ends():
    frames = list(range(10, 40))
    ramp = [0.5 * f for f in frames]
    assert check(frames, ramp, thinning.linear(frames, ramp)) == [0, 29]
    flat = [2.0] * 30
    assert check(frames, flat, thinning.linear(frames, flat)) == [0, 29]


def test_steps_and_skipped_frames_are_followed():
    frames = [1, 2, 3, 7, 8, 9, 15, 16]  # frames without a value (dropped or still) are not samples
    values = [0, 0, 0, 5, 5, 5, 1, 1]
    kept = check(frames, values, thinning.linear(frames, values))
    assert [frames[i] for i in kept] == [1, 3, 7, 9, 15, 16]


def test_noise_stays_within_the_tolerance_and_every_sample_is_a_worst_case_end():
    rng = random.Random(7)
    frames = list(range(200))
    values = [rng.uniform(-1, 1) for _ in frames]
    kept = check(frames, values, thinning.linear(frames, values))
    assert len(kept) > 150  # noise cannot be thinned much at 1%
    kept = check(frames, values, thinning.linear(frames, values), fraction=0.5)
    assert len(kept) < 150


def test_a_non_local_curve_converges():
    """Each key moves its neighbours' spans (as Bezier handles do): the global refinement still ends."""
    frames = list(range(60))
    values = [math.sin(f / 8) + 0.02 * f for f in frames]
    base = thinning.linear(frames, values)

    def smeared(kept):  # every span is bent by the keys around it
        lin = base(kept)
        keep = set(kept)
        return [v if i in keep else v + 0.02 * math.sin(len(kept) + i) for i, v in enumerate(lin)]
    calls = []

    def evaluate(kept):
        calls.append(list(kept))
        return smeared(kept)
    kept = check(frames, values, evaluate)
    assert calls[-1] == kept  # the curve is left in the returned state
    assert len(calls) <= len(frames)


def test_tolerance():
    assert thinning.tolerance([0, 10]) == 0.1
    assert thinning.tolerance([5, 5]) == pytest.approx(5e-6)  # float32's rounding: a constant is never "off"
    assert thinning.tolerance([-3, 1], 0.02) == pytest.approx(0.08)


def test_short_takes():
    for n in (0, 1, 2):
        seen = []
        assert thinning.reduce([1.0] * n, 0.1, lambda kept: seen.append(kept) or [1.0] * n) == list(range(n))
        assert seen == [list(range(n))]
