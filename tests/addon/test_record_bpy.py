"""Recording (docs/protocol.md, "Record") on PyPI bpy 5.0, in this process: the
real add-on enabled in bpy, real socket clients, the drain pumped by the test
and frames stepped by hand (bpy has no window, so no playback: the recorder's
playing() is the test's switch). What the GUI test (test_record_gui.py) cannot
pin down frame by frame: one key per target per frame with the newest value,
thinning with Blender's F-curve evaluation, one undo step per take, a still
knob, context.active_object paths, the record op and its events."""

import math
import os
import pathlib
import sys
import tempfile
import time

import pytest

import conftest
from conftest import ADDON, Client

# bpy reads its environment when imported: isolate it first, and load the real
# add-on package (conftest registered a bare one for the bpy-free modules).
_TMP = pathlib.Path(tempfile.mkdtemp(prefix="knoblink-record-"))
for _var, _sub in (("HOME", "home"), ("TMPDIR", "tmp"), ("XDG_CACHE_HOME", "cache"),
                   ("XDG_CONFIG_HOME", "config"), ("XDG_RUNTIME_DIR", "run")):
    (_TMP / _sub).mkdir(mode=0o700, parents=True, exist_ok=True)
    os.environ[_var] = str(_TMP / _sub)
(_TMP / "scripts" / "addons").mkdir(parents=True)
(_TMP / "scripts" / "addons" / "knoblink").symlink_to(ADDON)
os.environ["BLENDER_USER_SCRIPTS"] = str(_TMP / "scripts")
os.environ["KNOBLINK_PORT"] = "0"
for _name in [m for m in sys.modules if m == "knoblink" or m.startswith("knoblink.")]:
    del sys.modules[_name]

import bpy  # noqa: E402
import addon_utils  # noqa: E402

CUBE = 'bpy.data.objects["Cube"]'
LOC_Z = f"{CUBE}.location[2]"
ROT = "context.active_object.rotation_euler[1]"


@pytest.fixture(scope="module")
def addon():
    mod = addon_utils.enable("knoblink", default_set=True)
    assert mod is not None, "could not enable the add-on"
    yield mod
    addon_utils.disable("knoblink", default_set=False)


@pytest.fixture
def link(addon):
    cube = bpy.data.objects["Cube"]  # the same start for every test
    cube.animation_data_clear()
    cube.location, cube.rotation_euler, cube.scale = (0, 0, 0), (0, 0, 0), (1, 1, 1)
    bpy.context.scene.frame_set(1)
    running = addon.link.running()
    assert running is not None and running.server is not None
    state = {"playing": False}
    running.recorder.playing = lambda: state["playing"]
    running.test_playing = state
    yield running
    running.recorder.set(False)
    state["playing"] = False
    running.drain()


class Pumped(Client):
    """A client whose waits pump the drain (bpy has no timers)."""

    def _pump(self, timeout):
        conftest.running_link.drain()
        super()._pump(min(timeout, 0.005))


@pytest.fixture
def c(link):
    conftest.running_link = link
    cl = Pumped(link.server.port, name="record")
    yield cl
    cl.close()


def settle(link, c):
    """Everything sent so far is applied: a ping-like round trip through the queue."""
    c.ok({"op": "batch", "ops": [{"op": "ping"}]})


def fcurve(obj, data_path, index):
    anim = obj.animation_data
    if anim is None or anim.action is None:
        return None
    from bpy_extras import anim_utils
    bag = anim_utils.action_get_channelbag_for_slot(anim.action, anim.action_slot)
    return bag.fcurves.find(data_path, index=index) if bag is not None else None


def frame(n):
    bpy.context.scene.frame_set(n)


class Pace:
    """Frames stepped like playback: frame f begins dt seconds after frame f - 1
    (the recorder's clock is the moments frames change: docs/protocol.md, "Record")."""

    def __init__(self, dt):
        self.dt, self.t0 = dt, time.monotonic()
        self.began = {}  # frame -> when it began

    def frame(self, f, first=1):
        self.sleep_until((f - first) * self.dt)
        frame(f)
        self.began[f] = time.monotonic()

    def sleep_until(self, t):
        left = self.t0 + t - time.monotonic()
        if left > 0:
            time.sleep(left)

    def now(self):
        return time.monotonic() - self.t0


def test_record_op_and_events(link, c):
    other = Pumped(link.server.port, name="other")
    c.ok({"op": "record", "on": True})
    assert other.wait(lambda m: m.get("ev") == "record") == {"ev": "record", "on": True}
    late = Pumped(link.server.port, name="late")  # joins while on: told in its greeting
    assert late.wait(lambda m: "ev" in m, 2) == {"ev": "record", "on": True}
    c.error({"op": "record", "on": 1}, "bad_request")
    c.error({"op": "record"}, "bad_request")
    c.ok({"op": "record", "on": True})  # already on: nothing to tell
    c.ok({"op": "record", "on": False})
    assert other.wait(lambda m: m.get("ev") == "record") == {"ev": "record", "on": False}
    settle(link, other)
    assert not [m for m in other.msgs if m.get("ev") == "record"], other.msgs
    # Recording on while the timeline does not play keys nothing.
    c.ok({"op": "record", "on": True})
    c.ok({"op": "set", "path": LOC_Z, "value": 1.5})
    assert fcurve(bpy.data.objects["Cube"], "location", 2) is None
    other.close()
    late.close()


def test_one_key_per_frame_newest_value_then_the_frames_end_and_thinning(link, c):
    cube = bpy.data.objects["Cube"]
    c.ok({"op": "record", "on": True})
    frame(1)
    link.test_playing["playing"] = True
    pace = Pace(0.04)  # 25 frames/s
    sweep = lambda t: 2.0 * math.sin(t / 2.4 * math.pi)  # noqa: E731  a knob turned up and back over 60 frames
    for f in range(1, 61):
        pace.frame(f)
        for k in (1, 2, 3):  # three values in one frame, each in its own drain: the newest is its key
            pace.sleep_until((f - 1 + k / 4) * pace.dt)
            v = sweep(pace.now())
            c.ok({"op": "set", "path": LOC_Z, "value": v})
        fc = fcurve(cube, "location", 2)
        assert fc is not None and len(fc.keyframe_points) == f, f  # one key per frame so far
        assert fc.keyframe_points[-1].co[1] == pytest.approx(v, abs=1e-5)
    pace.sleep_until(60 * pace.dt)
    ended = time.monotonic()
    link.test_playing["playing"] = False  # playback stops: the take ends
    take = c.wait(lambda m: m.get("ev") == "take")
    fc = fcurve(cube, "location", 2)
    keys = len(fc.keyframe_points)
    assert take == {"ev": "take", "channels": 1, "recorded": 60, "keys": keys, "frames": [1, 60]}
    print(take)
    assert keys <= 30, keys
    # Each frame's value is the knob's when the frame ended (the next one began): the
    # newest value moved on to that moment along the values around it.
    at_end = {f: sweep(pace.began.get(f + 1, ended) - pace.t0) for f in range(1, 61)}
    span = max(at_end.values()) - min(at_end.values())
    worst = max(abs(fc.evaluate(f) - v) for f, v in at_end.items())
    print(f"worst error {worst / span:.3%} of the range {span:.3f}")
    assert worst <= 0.015 * span, (worst, span)  # 1% thinning, and this loop's own timing
    # Blender's own evaluation of the property agrees.
    for f in (7, 23, 41):
        frame(f)
        assert cube.location[2] == pytest.approx(fc.evaluate(f), abs=1e-5)


def test_still_knob_adds_no_keys_and_a_take_is_one_undo_step(link, c):
    cube = bpy.data.objects["Cube"]
    c.ok({"op": "set", "path": LOC_Z, "value": 0.25})
    time.sleep(0.35)
    c.ok({"op": "set", "path": f"{CUBE}.location[0]", "value": 0.0})  # a gesture open when the take starts
    c.ok({"op": "record", "on": True})
    link.test_playing["playing"] = True
    pace = Pace(0.04)
    for f in range(1, 31):  # the timeline plays, nothing moves
        pace.frame(f)
        settle(link, c)
    assert fcurve(cube, "location", 2) is None
    # Now the knob moves for 5 frames at a time and rests for 9 (0.36 s, longer than a
    # gesture) while the timeline plays on; its value is sent at the end of each frame.
    moving = [f for start in (31, 45, 59, 73) for f in range(start, start + 5)]
    for f in range(31, 91):
        pace.frame(f)
        if f in moving:
            pace.sleep_until((f - 1 + 0.95) * pace.dt)
            c.ok({"op": "set", "path": LOC_Z, "value": 0.25 + (moving.index(f) + 1) * 0.1})
        else:
            settle(link, c)
    c.ok({"op": "record", "on": False})  # recording ends while it plays
    take = c.wait(lambda m: m.get("ev") == "take")
    assert take["recorded"] == 20 and take["frames"][0] == 1 and take["channels"] == 1, take
    fc = fcurve(cube, "location", 2)
    assert fc is not None and len(fc.keyframe_points) == take["keys"]
    assert min(k.co[0] for k in fc.keyframe_points) == 31 and max(k.co[0] for k in fc.keyframe_points) == 77
    # Thinned, though each move keeps up to 4 of its 5 keys: Blender's auto-clamped handles bend
    # a ramp that meets a rest with no keys (16 keys for these 20 values, newest or not).
    assert take["keys"] <= 16, [tuple(k.co) for k in fc.keyframe_points]
    assert all(abs(fc.evaluate(f) - (0.25 + (i + 1) * 0.1)) <= 0.025 for i, f in enumerate(moving))
    time.sleep(0.35)
    settle(link, c)  # no gesture step may follow the take's
    bpy.ops.ed.undo()
    cube = bpy.data.objects["Cube"]  # undo re-reads the data: old references are gone
    assert fcurve(cube, "location", 2) is None
    assert bpy.data.objects["Cube"].location[2] == pytest.approx(0.25)  # before the take
    bpy.ops.ed.redo()
    fc = fcurve(bpy.data.objects["Cube"], "location", 2)
    assert fc is not None and len(fc.keyframe_points) == take["keys"]


def test_active_object_arrays_adds_and_what_cannot_be_keyed(link, c, monkeypatch):
    cube = bpy.data.objects["Cube"]
    errors = []
    monkeypatch.setattr(link.recorder, "log", errors.append)
    c.ok({"op": "record", "on": True})
    link.test_playing["playing"] = True
    pace = Pace(0.3)  # values further apart than a motion (docs/protocol.md): each key is its frame's newest
    for f in range(1, 11):
        pace.frame(f)
        pace.sleep_until((f - 0.5) * pace.dt)  # mid-frame: well before the frame ends
        c.ok({"op": "set", "path": ROT, "value": f * 0.1})  # context.active_object
        c.ok({"op": "add", "path": f"{CUBE}.location[0]", "value": 0.5})
        c.ok({"op": "set", "path": f"{CUBE}.scale", "value": [1, 1 + f * 0.01, 1]})  # a whole array
        c.ok({"op": "add", "path": "context.scene.frame_current", "value": 0})  # not animatable: skipped
        c.error({"op": "set", "path": f"{CUBE}.name", "value": "x"}, "not_allowed")  # refused: never keyed
        c.ok({"op": "set", "path": f"{CUBE}.rotation_mode", "value": "XYZ"})  # an enum: written, not keyed
    link.test_playing["playing"] = False
    take = c.wait(lambda m: m.get("ev") == "take")
    assert take["channels"] == 5 and take["recorded"] == 50, take  # rot[1], loc[0], scale[0..2]
    rot = fcurve(cube, "rotation_euler", 1)
    assert all(abs(rot.evaluate(f) - f * 0.1) <= 0.009 + 1e-6 for f in range(1, 11))
    loc = fcurve(cube, "location", 0)
    assert all(abs(loc.evaluate(f) - f * 0.5) <= 0.045 + 1e-6 for f in range(1, 11))  # the adds' sums
    assert len(fcurve(cube, "scale", 0).keyframe_points) == 2  # constant: the ends stay
    assert "record: context.scene.frame_current is not animatable; not keyed" in errors
    assert f"record: {CUBE}.rotation_mode holds no number or bool; not keyed" in errors
    assert len(errors) == 2  # told once per take
