"""Inside the GUI Blender of test_wake.py: watches the main loop and the add-on's wake-up.

Every pass of the main loop runs the probe (a bpy.app.timers callback at
interval 0). Per 50 ms window it logs to $KNOBLINK_PROBE_LOG one JSON line:
{"t": CLOCK_MONOTONIC at the window's end, "passes": passes in it, "awake":
whether the add-on holds its wake-up timer, "wakeups": how often it woke,
"panel": what the KnobLink panel says of the wake-up}.
A loop that sleeps 5 ms after each idle pass cannot make more than 10 passes
in 50 ms; an awake one makes hundreds. Undo steps the add-on pushes are logged
as {"t", "undo": message, "awake"} (the real ed.undo_push still runs).

Commands: the test writes one word into $KNOBLINK_PROBE_LOG + ".cmd":
  wake N     set the preference Stay awake (ms) to N
  open       open the .blend this probe saved at start (a file load)
  window     open a new main window, then close the one the wake-up's timer is on
  quit       wm.quit_blender
"""

import json
import os
import sys
import time

import bpy

LOG = os.environ["KNOBLINK_PROBE_LOG"]
CMD = LOG + ".cmd"
SAVED = os.path.join(os.path.dirname(LOG), "wake-probe.blend")
WINDOW_S = 0.05

addon = sys.modules["knoblink"]
clock = time.monotonic
state = {"t0": clock(), "passes": 0, "checked": 0.0}
log = open(LOG, "a", buffering=1)


def write(obj):
    log.write(json.dumps(obj) + "\n")


def _wake():
    link = addon.link.running()
    return link.wake if link is not None else None


_real_undo_push = addon.apply.undo_push


def undo_push(message):
    write({"t": clock(), "undo": message, "awake": bool(_wake() and _wake().awake)})
    return _real_undo_push(message)


addon.apply.undo_push = undo_push


def probe():
    now = clock()
    state["passes"] += 1
    if now - state["t0"] >= WINDOW_S:
        w = _wake()
        write({"t": now, "passes": state["passes"], "awake": bool(w and w.awake),
               "wakeups": w.wakeups if w else -1, "windows": len(bpy.context.window_manager.windows),
               "panel": w.summary() if w else ""})
        state.update(t0=now, passes=0)
    if now - state["checked"] >= WINDOW_S:
        state["checked"] = now
        if os.path.exists(CMD):
            with open(CMD) as f:
                words = f.read().split()
            os.remove(CMD)
            _command(words)
    return 0.0


def _command(words):
    write({"t": clock(), "cmd": " ".join(words)})
    if words[0] == "wake":
        bpy.context.preferences.addons["knoblink"].preferences.wake_ms = int(words[1])
    elif words[0] == "open":
        bpy.ops.wm.open_mainfile(filepath=SAVED)
        write({"t": clock(), "loaded": SAVED, "awake": bool(_wake() and _wake().awake)})
    elif words[0] == "window":
        wm = bpy.context.window_manager
        old = wm.windows[0]
        with bpy.context.temp_override(window=old, screen=old.screen):
            bpy.ops.wm.window_new_main()
        with bpy.context.temp_override(window=old, screen=old.screen):
            bpy.ops.wm.window_close()
        write({"t": clock(), "closed_window": True, "windows": len(wm.windows)})
    elif words[0] == "quit":
        bpy.ops.wm.quit_blender()


for name in "abcdef":  # the custom properties the test streams into
    bpy.data.objects["Cube"][name] = 0
bpy.ops.wm.save_as_mainfile(filepath=SAVED)
bpy.app.timers.register(probe, first_interval=0.0, persistent=True)
print("knoblink-probe ready", flush=True)
