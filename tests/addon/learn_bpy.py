"""The add-on's side of learn in a real Blender without a window (PyPI bpy 5.0 as
`python3 learn_bpy.py`, or Blender 3.4 as `blender -b --python learn_bpy.py`), with a
socket client playing the bridge. Pumps the drain itself (no timers here). Exits 1 on the
first failed check, printing it; prints "learn_bpy: ok" at the end.

Checks: refusals before anything is sent (grammar, policy.py, strings, whole vectors,
no bridge), the learn events for float/int/bool/enum with their ranges, the property
under the mouse (button_pointer/button_prop), Copy Full Data Path's form, the answers
reported and kept in link.running().learns, malformed answers refused, the menu items.
"""

import json
import os
import socket
import sys
import time

import bpy
import addon_utils

mod = addon_utils.enable("knoblink", default_set=True)
if mod is None:
    sys.exit("learn_bpy: cannot enable the knoblink add-on")
from knoblink import learn  # noqa: E402  (the enabled add-on's module)

link = mod.link.running()
state = link.learns
CUBE = 'bpy.data.objects["Cube"]'
LOCY = f"{CUBE}.location[1]"
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print(f"learn_bpy: FAILED: {what}", flush=True)


def pump(seconds=0.3):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        mod.pump()
        time.sleep(0.005)


class Bridge:
    """A client that says hello with the add-on's token and reads lines."""

    def __init__(self):
        self.sock = socket.create_connection(("127.0.0.1", link.server.port), timeout=5)
        self.sock.setblocking(False)
        self.buf = b""
        self.send({"hello": 1, "client": "knoblink/learn-test", "token": link.token})
        check("hello" in self.wait(lambda m: "hello" in m or "error" in m), "hello answered")

    def send(self, obj):
        self.sock.sendall(json.dumps(obj).encode() + b"\n")

    def lines(self):
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    break
                self.buf += data
        except BlockingIOError:
            pass
        *lines, self.buf = self.buf.split(b"\n")
        return [json.loads(x) for x in lines if x.strip()]

    def wait(self, pred, seconds=5.0):
        end = time.monotonic() + seconds
        seen = []
        while time.monotonic() < end:
            mod.pump()
            for m in self.lines():
                seen.append(m)
                if pred(m):
                    return m
            time.sleep(0.005)
        return {"timeout": seen}


def run(op, **kw):
    """The operator's result; an ERROR report raises RuntimeError in a script: CANCELLED."""
    try:
        return op(**kw)
    except RuntimeError:
        return {"CANCELLED"}


def learn_op(path="", **override):
    if override:
        with bpy.context.temp_override(**override):
            return run(bpy.ops.knoblink.learn, path=path)
    return run(bpy.ops.knoblink.learn, path=path)


# ---- refusals before any bridge is connected: nothing is learned or sent
bpy.data.texts.new("notes")
check(learn_op(LOCY) == {"CANCELLED"}, "no bridge: cancelled")
check("no knoblink bridge is connected" in state.last["message"], f"no bridge: {state.last}")
bridge = Bridge()
pump()
refused = {
    "context.scene.__class__": "starts with an underscore",
    'bpy.data.texts["notes"].current_line_index': "text blocks are Python scripts",
    f"{CUBE}.name": "strings can carry code",
    f"{CUBE}.location": "a controller drives one number, bool or enum",
    f"{CUBE}.dimensions[7]": "index 7",
    'bpy.data.objects["Nope"].location[0]': "no 'Nope'",
}
for path, why in refused.items():
    check(learn_op(path) == {"CANCELLED"}, f"refused {path}")
    check(state.last["op"] == "learn_refused" and why in state.last["message"], f"{path}: {state.last}")
pump()
check(not [m for m in bridge.lines() if m.get("ev") == "learn"], "no learn event for a refused property")

# ---- learn events: kind and the range a knob sweeps
cases = {
    LOCY: {"kind": "FLOAT", "min": -10.0, "max": 10.0},  # no soft limit: the value +- 10
    f"{CUBE}.rotation_euler[2]": {"kind": "FLOAT", "min": -3.14159, "max": 3.14159},  # an angle: +- pi
    f"{CUBE}.hide_render": {"kind": "BOOLEAN", "min": 0, "max": 1},
    "context.scene.render.resolution_percentage": {"kind": "INT", "min": 1, "max": 100},  # its soft range
}
for path, want in cases.items():
    check(learn_op(path) == {"FINISHED"}, f"learn {path}")
    ev = bridge.wait(lambda m: m.get("ev") == "learn" and m.get("path") == path)
    check(ev == {"ev": "learn", "path": path, **want}, f"learn event {path}: {ev}")
check(len(state.waiting) == len(cases), f"waiting: {state.waiting}")
ev_engine = None
check(learn_op("context.scene.render.engine") == {"FINISHED"}, "learn an enum")
ev_engine = bridge.wait(lambda m: m.get("ev") == "learn" and m.get("path") == "context.scene.render.engine")
check(ev_engine.get("kind") == "ENUM" and ev_engine.get("min") == 0 and ev_engine.get("max", -1) >= 0,
      f"enum event {ev_engine}")

# ---- the property under the mouse: what the right-click menu passes (empty path)
obj = bpy.data.objects["Cube"]
check(learn_op(button_pointer=obj, button_prop=obj.bl_rna.properties["hide_render"]) == {"FINISHED"},
      "learn the property under the mouse")
check(state.waiting.get(f"{CUBE}.hide_render") is not None, "under the mouse: learned hide_render")
check(learn_op(button_pointer=obj, button_prop=obj.bl_rna.properties["location"]) == {"CANCELLED"},
      "a whole vector under the mouse")
check(learn.full_path(obj, "location", 1) == LOCY, learn.full_path(obj, "location", 1))
mat = bpy.data.materials.new('Mat "A"')
mat.use_nodes = True
node = mat.node_tree.nodes["Principled BSDF"]
want = ('bpy.data.materials["Mat \\"A\\""].node_tree.nodes["Principled BSDF"].inputs[0].default_value')
check(learn.full_path(node.inputs[0], "default_value") == want, learn.full_path(node.inputs[0], "default_value"))
empty = bpy.data.objects.new("Würfel's \\ one", None)
check(learn.full_path(empty, "location", 0) == 'bpy.data.objects["Würfel\'s \\\\ one"].location[0]',
      learn.full_path(empty, "location", 0))
check(learn.menu_draw in bpy.types.UI_MT_button_context_menu._dyn_ui_initialize(), "menu item appended")

# ---- the bridge's answers, reported and kept
answers = [
    ({"op": "learned", "path": LOCY, "control": "box.k2", "mapping": "set", "file": "/m/box.yaml", "line": 41},
     "k2 on box -> Cube location Y (box.yaml line 41)", True),
    ({"op": "learned", "path": LOCY, "control": "box.k2", "mapping": "set", "file": "/m/box.yaml",
      "error": "/m/box.yaml is read-only (mode 0444)"},
     "k2 on box -> Cube location Y, live but not saved: /m/box.yaml is read-only (mode 0444)", False),
    ({"op": "learn_failed", "path": f"{CUBE}.hide_render", "reason": "no control touched within 15 s"},
     "nothing learned for Cube disable in renders: no control touched within 15 s", False),
    ({"op": "forgot", "path": LOCY, "count": 2, "file": "/m/box.yaml", "lines": [9, 12]},
     "forgot 2 mappings of Cube location Y (box.yaml lines 9, 12)", True),
    ({"op": "forget_failed", "path": "context.scene.frame_current", "reason": "no mapping targets it"},
     "nothing forgotten for context.scene.frame_current: no mapping targets it", False),
]
for obj_, message, ok in answers:
    bridge.send(obj_)
    pump()
    check(state.last["message"] == message and state.last["ok"] is ok, f"answer {obj_['op']}: {state.last}")
check(LOCY not in state.waiting and f"{CUBE}.hide_render" not in state.waiting, f"answered: {state.waiting}")
bridge.send({"op": "learned", "control": "box.k2", "id": 7})
err = bridge.wait(lambda m: m.get("id") == 7)
check(err.get("error") == "bad_request", f"an answer without a path: {err}")
bridge.send({"op": "learned", "path": "context.scene.__x", "id": 8})
check(bridge.wait(lambda m: m.get("id") == 8).get("error") == "bad_path", "an answer with a bad path")

# ---- Forget Mapping sends forget for the path
check(bpy.ops.knoblink.forget(path=LOCY) == {"FINISHED"}, "forget")
ev = bridge.wait(lambda m: m.get("ev") == "forget")
check(ev == {"ev": "forget", "path": LOCY}, f"forget event {ev}")
check(run(bpy.ops.knoblink.forget, path="context.scene.__class__") == {"CANCELLED"}, "forget a bad path")

addon_utils.disable("knoblink", default_set=False)
if failures:
    print(f"learn_bpy: {len(failures)} checks failed", flush=True)
    sys.exit(1)
print("learn_bpy: ok", flush=True)
