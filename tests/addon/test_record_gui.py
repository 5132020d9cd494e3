"""Recording (docs/protocol.md, "Record") in Debian's Blender 3.4 with a window
under Xvfb, with real playback (screen.animation_play): a scripted socket
client sweeping a value, and the whole chain: the knob-box firmware in the
emulator -> knoblink with a record: switch -> Blender, the LED following the
record state.

Which frames got a value is what this test saw through watches: the add-on
checks watches at the end of every drain, after the drain's keys were inserted
at that frame, so a value event belongs to the frame last reported before it.
What was applied at a frame's time is what this test sent (every value is a
set, applied as sent) at the moment the frame ended on the playback clock,
which the test fits itself through the times it saw the frames change
(docs/protocol.md, "Record", "The value of a frame"). The F-curve is read back
through Blender's own evaluation: the frame is set and the animated value
watched."""

import json
import math
import os
import select
import subprocess
import threading
import time

import pytest

from conftest import Client
from test_live import Blender

FRAME = "context.scene.frame_current"


def paths(obj):
    """The recorded value of obj (location z) and its F-curve's keys (a list, one item per key)."""
    ob = f'bpy.data.objects["{obj}"]'
    return f"{ob}.location[2]", f"{ob}.animation_data.action.fcurves[0].keyframe_points"
BRIDGE = os.environ.get("KNOBLINK_BRIDGE_EXE", "")
SIM = os.environ.get("KNOBLINK_SIM_EXE", "")
FIRMWARE = os.environ.get("KNOBLINK_FIRMWARE_ELF", "")


@pytest.fixture(scope="module")
def blender(tmp_path_factory):
    b = Blender(tmp_path_factory.mktemp("record34"), [os.path.join(os.path.dirname(__file__), "record_setup.py")])
    c = Client(b.port, name="ready", env=b.env)
    c.value(FRAME, timeout=90)  # the first drain has run: the first timer fired
    c.close()
    yield b
    b.kill()


@pytest.fixture
def c(blender):
    cl = Client(blender.port, name="record", env=blender.env)
    yield cl
    cl.close()


def fresh(c, target):
    """Frame 1, target at 0; playback in real time (frames are dropped when a redraw is slow:
    software GL on a loaded machine draws a few frames per second)."""
    c.ok({"op": "set", "path": "context.scene.sync_mode", "value": "FRAME_DROP"})
    c.ok({"op": "set", "path": FRAME, "value": 1})
    c.ok({"op": "set", "path": target, "value": 0.0})
    time.sleep(0.4)  # its undo step is pushed: the take starts from here


def key_count(c, keys_path):
    """How many keys the F-curve has, None while there is none (the path does not resolve)."""
    r = c.request({"op": "watch", "path": keys_path})
    if r.get("error") == "not_found":
        return None
    assert r.get("ok"), r
    n = len(c.wait(lambda m: m.get("ev") == "value" and m["path"] == keys_path)["value"])
    c.ok({"op": "unwatch", "path": keys_path})
    return n


class Played:
    """Frames and values seen through watches on a client, in order, and what was
    sent: sent(value) when it is sent, scale turning it into the target's value."""

    def __init__(self, client, target, scale=lambda v: v):
        self.client, self.target, self.scale = client, target, scale
        self.frame = None
        self.frames = []  # every frame reported
        self.changes = []  # (frame, time it was reported) while values are sent
        self.applied = {}  # frame -> the newest value seen in it
        self.firsts = {}  # frame -> the first value seen in it
        self.stream = []  # (time sent, target value)

    def sent(self, value):
        self.stream.append((time.monotonic(), self.scale(value)))

    def at(self, when):
        """What was sent by time when: linear between two sends (a knob turning), the first or last outside."""
        s = self.stream
        if when <= s[0][0]:
            return s[0][1]
        for (ta, va), (tb, vb) in zip(s, s[1:]):
            if when < tb:
                return va + (vb - va) * (when - ta) / (tb - ta)
        return s[-1][1]

    def sent_around(self, f, lag):
        """The lowest and highest value sent from lag seconds before frame f ended (its end on
        this test's fit of the frame changes, seen through a socket) until just after."""
        end = self.frame_end(f)
        a, b = end - lag, end + 0.01
        inside = [v for t, v in self.stream if a < t < b] + [self.at(a), self.at(b)]
        return min(inside), max(inside)

    def applied_or_sent_around(self, f, lag):
        """sent_around(), or what Blender applied when the frame ended, between the newest
        value applied in it and the first applied after it: when a value takes long to come
        (the emulator or the bridge starved on a loaded machine), what was applied is older
        than what was sent."""
        lo, hi = self.sent_around(f, lag)
        later = [g for g in self.firsts if g > f]
        near = [self.applied[f]] + ([self.firsts[min(later)]] if later else [])
        return min(lo, *near), max(hi, *near)

    def frame_end(self, f):
        """When frame f ended: a line fitted through the frame changes seen within a second of it."""
        pts = [(g, t) for g, t in self.changes if abs(g - f) <= 24]
        assert len(pts) >= 3, (f, self.changes)
        mf = sum(g for g, _ in pts) / len(pts)
        mt = sum(t for _, t in pts) / len(pts)
        slope = sum((g - mf) * (t - mt) for g, t in pts) / sum((g - mf) ** 2 for g, _ in pts)
        return mt + slope * (f + 1 - mf)

    def take(self, timeout):
        """Reads until the take event; returns it."""
        end = time.monotonic() + timeout
        while True:
            for i, m in enumerate(self.client.msgs):
                self.client.msgs.pop(i)
                if m.get("ev") == "take":
                    return m
                self.see(m)
                break
            else:
                left = end - time.monotonic()
                assert left > 0, f"no take event; frames seen {self.frames[-5:]}"
                self.client._pump(min(left, 0.05))

    def see(self, m):
        if m.get("ev") != "value":
            return
        if m["path"] == FRAME:
            self.frame = m["value"]
            self.frames.append(self.frame)
            if self.stream and (not self.changes or self.frame > self.changes[-1][0]):
                self.changes.append((self.frame, time.monotonic()))
        elif m["path"] == self.target and self.frame is not None:
            self.applied[self.frame] = m["value"]
            self.firsts.setdefault(self.frame, m["value"])

    def pump(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.client._pump(0.01)
            while self.client.msgs:
                self.see(self.client.msgs.pop(0))


def check_curve(c, obj, take, played, around):
    """The F-curve's value at every played frame is within 2% of the range of what was
    applied at the frame's time (around(f): the lowest and highest value that can be);
    at most half as many keys as frames."""
    target, keys_path = paths(obj)
    applied = played.applied
    first, last = min(applied), max(applied)
    frames = last - first + 1  # the frames the values arrived over
    keys = key_count(c, keys_path)
    assert keys == take["keys"] and keys <= frames / 2, (take, keys, frames)
    assert take["recorded"] == len(applied), (take, sorted(applied))
    assert applied[last] == pytest.approx(played.stream[-1][1], abs=1e-6)  # what was sent was applied
    values = [v for _, v in played.stream]
    span = max(values) - min(values)
    assert span > 1.0, values
    tol = 0.02 * span
    worst = 0.0
    shown = sorted({f for f in played.frames if first <= f <= last})  # frames Blender dropped are not played
    for f in shown:
        c.ok({"op": "set", "path": FRAME, "value": f})
        v = c.value(target)
        if f in applied:
            lo, hi = around(f)
        else:  # played, but no value arrived in it: the curve runs between its neighbours' values
            before = max((g for g in applied if g < f), default=first)
            after = min((g for g in applied if g > f), default=last)
            (lo, hi), (lo2, hi2) = around(before), around(after)
            lo, hi = min(lo, lo2), max(hi, hi2)
        err = max(lo - v, v - hi, 0.0)
        worst = max(worst, err)
        assert err <= tol, (f, v, (lo, hi), applied.get(f), tol)
    print(f"take {take}: {keys} keys for {frames} frames ({len(shown)} played), worst error {worst / span:.2%} "
          f"of the range {span:.3f}")


def test_a_scripted_sweep_during_playback_becomes_a_thin_f_curve_and_one_undo_step(c):
    loc_z, keys = paths("Cube")
    fresh(c, loc_z)
    assert key_count(c, keys) is None
    played = Played(c, loc_z)
    c.ok({"op": "watch", "path": FRAME})
    c.ok({"op": "watch", "path": loc_z})
    c.ok({"op": "record", "on": True})
    assert c.wait(lambda m: m.get("ev") == "record") == {"ev": "record", "on": True}
    c.ok({"op": "call", "operator": "screen.animation_play"})
    # A still knob while it plays: nothing is keyed.
    played.pump(0.8)
    assert key_count(c, keys) is None
    played.applied.clear()  # the watches' first values came before the take
    t0 = time.monotonic()
    while (t := time.monotonic() - t0) < 3.0:  # a hand turns the knob up and back, ~100 values/s
        v = 1 - math.cos(2 * math.pi * t / 3.0)
        c.send({"op": "set", "path": loc_z, "value": v})
        played.sent(v)
        played.pump(0.01)
    played.pump(0.5)  # still again before playback stops
    c.send({"op": "call", "operator": "screen.animation_cancel", "args": {"restore_frame": False}})
    take = played.take(20)
    assert take["channels"] == 1 and take["frames"][0] < min(played.applied), (take, played.applied)
    assert take["frames"][1] - take["frames"][0] >= 20, (take, played.frames)  # it really played
    c.ok({"op": "unwatch", "path": FRAME})
    c.ok({"op": "unwatch", "path": loc_z})
    c.ok({"op": "record", "on": False})
    c.ok({"op": "call", "operator": "ed.undo"})  # the whole take, in one step
    assert key_count(c, keys) is None
    assert c.value(loc_z) == 0.0
    c.ok({"op": "call", "operator": "ed.redo"})
    assert key_count(c, keys) == take["keys"]
    check_curve(c, "Cube", take, played, lambda f: played.sent_around(f, lag=0.03))


def test_the_record_switch_on_the_emulated_box(blender, c, tmp_path):
    if not (BRIDGE and SIM and FIRMWARE):
        pytest.skip("needs KNOBLINK_BRIDGE_EXE, KNOBLINK_SIM_EXE and KNOBLINK_FIRMWARE_ELF (set by ctest)")
    loc_z, keys = paths("Camera")
    fresh(c, loc_z)
    assert key_count(c, keys) is None
    sim = Sim(tmp_path / "knobbox")
    cfg = tmp_path / "box.yaml"
    cfg.write_text(
        "devices:\n  box:\n    serial: {port: " + str(tmp_path / "knobbox") + "}\n"
        "record: {toggle: box.b5, led: box.l1}\n"
        "mappings:\n"
        "  - control: box.b1\n    press: {call: screen.animation_play}\n"
        "  - control: box.k1\n    set: '" + loc_z + "'\n    to: [0, 2]\n")
    bridge = subprocess.Popen([BRIDGE, "run", "-v", "--config", str(cfg)], env=blender.env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    log = []
    threading.Thread(target=lambda: log.extend(l.decode(errors="replace") for l in bridge.stdout),
                     daemon=True).start()
    try:
        end = time.monotonic() + 30
        while not any("blender: connected" in line for line in log):
            assert time.monotonic() < end and bridge.poll() is None, "".join(log[-20:])
            time.sleep(0.05)
        # The box described (its port opened and flushed): a click made before that is lost.
        while not any("box: described" in line for line in log):
            assert time.monotonic() < end and bridge.poll() is None, "".join(log[-20:])
            time.sleep(0.05)
        played = Played(c, loc_z, scale=lambda raw: 2.0 * raw / 1023)  # to: [0, 2]
        c.ok({"op": "watch", "path": FRAME})
        c.ok({"op": "watch", "path": loc_z})
        sim.click(5)  # record on, from the box
        try:
            assert sim.expect("led 1 ", 20) == "1"
        except AssertionError as e:
            raise AssertionError(f"{e}; the emulator said {sim.seen[-10:]}; the bridge said:\n"
                                 + "".join(log[-30:])) from None
        assert c.wait(lambda m: m.get("ev") == "record") == {"ev": "record", "on": True}
        sim.click(1)  # play
        played.pump(0.5)
        played.applied.clear()  # the watches' first values came before the take
        t0 = time.monotonic()
        while (t := time.monotonic() - t0) < 6.0:  # the knob swept up and back
            raw = round(1023 * (1 - math.cos(2 * math.pi * t / 6.0)) / 2)
            sim.send(f"knob 1 {raw}")
            played.sent(raw)
            played.pump(0.03)
        sim.sync()
        played.pump(0.5)
        sim.click(5)  # record off, from the box: the take ends while it plays
        assert sim.expect("led 1 ", 20) == "0"
        take = played.take(20)
        sim.click(1)  # stop
        c.ok({"op": "unwatch", "path": FRAME})
        c.ok({"op": "unwatch", "path": loc_z})
        assert take["channels"] == 1, take
        # Here the values take 2-7 ms from the emulator to Blender, much more when the emulator
        # or the bridge is starved, and the firmware's filter holds a knob turning back until it
        # moved 6 counts (0.6% of the range).
        check_curve(c, "Camera", take, played, lambda f: played.applied_or_sent_around(f, lag=0.15))
        # The panel's Record button (its operator) turns recording on: the box's LED follows.
        c.ok({"op": "call", "operator": "knoblink.record_toggle"})
        assert sim.expect("led 1 ", 20) == "1"
        c.ok({"op": "call", "operator": "knoblink.record_toggle"})
        assert sim.expect("led 1 ", 20) == "0"
        assert bridge.poll() is None
    finally:
        bridge.terminate()
        bridge.wait(10)
        sim.close()
    assert "recording on" in "".join(log), "".join(log[-30:])


class Sim:
    """knoblink-sim running the firmware, driven through its stdin."""

    def __init__(self, link):
        self.proc = subprocess.Popen([SIM, "--link", str(link), FIRMWARE], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, bufsize=0)
        self.buf = b""
        self.seen = []  # every line it printed
        self.expect("pty ", 10)

    def send(self, line):
        self.proc.stdin.write(line.encode() + b"\n")

    def expect(self, prefix, timeout):
        """The rest of the next stdout line that starts with prefix."""
        end = time.monotonic() + timeout
        while True:
            while b"\n" in self.buf:
                line, self.buf = self.buf.split(b"\n", 1)
                text = line.decode(errors="replace")
                self.seen.append(text)
                if text.startswith(prefix):
                    return text[len(prefix):]
            left = end - time.monotonic()
            assert left > 0, f"knoblink-sim printed no {prefix!r} line"
            r, _, _ = select.select([self.proc.stdout], [], [], left)
            if r:
                data = os.read(self.proc.stdout.fileno(), 4096)
                assert data, "knoblink-sim exited"
                self.buf += data

    def sync(self):
        self.send("sync")
        self.expect("sync", 10)

    def click(self, button):
        """A press a person makes: held 100 ms (the firmware debounces), from the moment the
        emulator applied it (a starved emulator could read press and release together)."""
        self.send(f"press {button}")
        self.sync()
        time.sleep(0.1)
        self.send(f"release {button}")

    def close(self):
        try:
            self.send("quit")
        except OSError:
            pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
