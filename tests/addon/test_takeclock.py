"""A take's frame clock and values without Blender (addon/knoblink/takeclock.py):
the moments frames changed as a slow Blender changes them, a knob's values as a
100 Hz controller sends them, and what the frames' values then are, thinned by
thinning.py the way record.py thins them (docs/protocol.md, "Record")."""

import math
import random

from knoblink import takeclock, thinning


def knob(t):
    """A hand turning a knob up and back over 3 s (the GUI test's sweep)."""
    return 1 - math.cos(2 * math.pi * min(max(t, 0.0), 3.0) / 3.0)


def slow_blender(rng, fps=24.0, seconds=3.0):
    """(frame, time it began): Blender drops and delays frames as software GL does, each
    frame shown on the first 25-70 ms pass after it was due (measured in Xvfb: 22-72 ms)."""
    shown, t, f = [], 0.0, 1
    while t < seconds:
        t += rng.uniform(0.025, 0.070)
        due = 1 + int(t * fps)
        if due > f:
            f = due
            shown.append((f, t))
    return shown


def take(rng, sender_hz=100.0):
    """A recorded take: the clock, the values, and per frame shown its newest value (what
    the drain keyed) and when that arrived."""
    clock = takeclock.FrameClock(24.0)
    clock.changed(1, 0.0)
    shown = slow_blender(rng)
    for f, t in shown:
        clock.changed(f, t)
    sends = [i / sender_hz + rng.uniform(0, 0.002) for i in range(int(3.2 * sender_hz))]
    values = takeclock.Values()
    newest = {}
    k = 0
    frames = [(1, 0.0)] + shown
    for (f, begin), (_, end) in zip(frames, frames[1:] + [(None, 3.2)]):
        # the drain runs once, just after the frame began: it applies what arrived until then
        while k < len(sends) and sends[k] <= begin:
            values.add(sends[k], knob(sends[k]))
            k += 1
        if len(values):
            newest[f] = (values.v[-1], values.t[-1])
    return clock, values, newest


def kept(frames, recorded):
    values = [recorded[f] for f in frames]
    return thinning.reduce(values, thinning.tolerance(values), thinning.linear(frames, values))


def test_frames_take_their_value_at_the_end_and_thin_to_few_keys():
    rng = random.Random(7)
    for _ in range(20):
        clock, values, newest = take(rng)
        frames = sorted(newest)
        at_end = {f: values.at(max(clock.end(0, f), t)) for f, (_, t) in newest.items()}
        truth = {f: knob((f + 1 - 1) / 24.0) for f in frames}  # frame f ends when f + 1 is due
        worst = max(abs(at_end[f] - truth[f]) for f in frames)
        assert worst <= 0.03 * 2.0, worst  # the fit's offset: frames are shown late, never early
        span = frames[-1] - frames[0] + 1
        assert len(kept(frames, at_end)) <= span / 2
        # The newest values themselves zigzag with the passes' timing: thinning keeps many more.
        plain = {f: v for f, (v, _) in newest.items()}
        assert len(kept(frames, plain)) > len(kept(frames, at_end))


def test_the_clock_fits_the_moments_frames_changed_and_follows_a_slower_playback():
    clock = takeclock.FrameClock(24.0)
    for f in range(1, 100):
        clock.changed(f, 0.5 + (f - 1) * 0.05 + (0.004 if f % 2 else -0.004))  # 20 frames/s, jittered
    assert abs(clock.end(0, 50) - (0.5 + 50 * 0.05)) < 0.002
    assert abs(clock.end(0, 99) - (0.5 + 99 * 0.05)) < 0.003  # the last frame: extrapolated
    clock.changed(99, 9.0)  # set to the frame it is: nothing new
    assert clock.run == 0
    clock.changed(1, 6.0)  # looped playback: a new run, its own clock
    clock.changed(2, 6.05)
    assert clock.run == 1
    assert abs(clock.end(1, 1) - 6.05) < 1e-9
    assert abs(clock.end(0, 50) - (0.5 + 50 * 0.05)) < 0.002  # the first run's times stay
    clock.changed(200, 6.1)  # a jump forward of more than a second of frames: a new run
    assert clock.run == 2
    assert abs(clock.end(2, 200) - (6.1 + 1 / 24.0)) < 1e-9  # one moment: the scene's rate


def test_values_interpolate_within_a_motion_and_hold_across_a_rest():
    v = takeclock.Values()
    v.add(1.0, 0.0)
    v.add(1.1, 1.0)
    assert v.at(0.5) == 0.0  # before the first: the first
    assert abs(v.at(1.05) - 0.5) < 1e-9
    v.add(2.0, 5.0)  # after a rest longer than MOTION_GAP: a new move, not a slow ramp
    assert v.at(1.5) == 1.0
    assert v.at(3.0) == 5.0
    v.add(1.9, 6.0)  # received before the last (two clients): applied after it, so kept after
    assert v.t[-1] == 2.0 and v.at(2.5) == 6.0
