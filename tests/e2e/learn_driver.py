"""Runs inside the real Blender (scripts/blender-addon --gui --python this): the test's
hands in Blender. Every file NAME.json the test renames into $KNOBLINK_TEST_COMMANDS is one
command, {"do": "learn"|"forget", "path": P}, run as the operator; each result and every
change of the add-on's last learn result (link.running().learns.last) is printed as a line
"learn-driver {json}" for the test to read from Blender's log; the first, {"ready": true},
once Blender's event loop runs (a GUI Blender under load may take a while to get there)."""

import json
import os
import sys

import bpy

FOLDER = os.environ["KNOBLINK_TEST_COMMANDS"]
_done = set()
_last = [None]
_ready = []


def say(obj):
    print("learn-driver " + json.dumps(obj, sort_keys=True), flush=True)


def tick():
    addon = sys.modules["knoblink"]
    if not _ready:  # the window's event loop runs (timers fire): the test may go on
        _ready.append(True)
        say({"ready": True})
    for name in sorted(os.listdir(FOLDER)):
        if not name.endswith(".json") or name in _done:
            continue
        _done.add(name)
        with open(os.path.join(FOLDER, name)) as f:
            cmd = json.load(f)
        op = bpy.ops.knoblink.learn if cmd["do"] == "learn" else bpy.ops.knoblink.forget
        try:
            result = sorted(op(path=cmd["path"]))
        except RuntimeError as e:  # an ERROR report
            result = [f"error: {e}"]
        say({"did": cmd["do"], "path": cmd["path"], "result": result})
    running = addon.link.running()
    last = running.learns.last if running is not None else None
    if last is not _last[0]:
        _last[0] = last
        say({"last": last})
    return 0.05


bpy.app.timers.register(tick, first_interval=0.2, persistent=True)
