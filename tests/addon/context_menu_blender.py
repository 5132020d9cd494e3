"""Inside Blender 3.4's GUI (tests/addon/test_context_menu.py): a real right-click on the
Properties editor's Object > Transform > Location Y, then a real click on *Map to Controller*
in the menu that opens; both through X (scripts/gui_input.py finds where they are on screen
by what Blender's copy keys copy under the pointer). Waits for a client first: a learn is
only sent with a bridge (here: the test's socket) connected. Prints each step; exits
Blender with code 1 when a step fails."""

import os
import sys

import bpy

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
import gui_input as gi  # noqa: E402

PATH = os.environ.get("KNOBLINK_MENU_PATH", 'bpy.data.objects["Cube"].location[1]')
LEARN, FORGET = "bpy.ops.knoblink.learn()", "bpy.ops.knoblink.forget()"


def log(msg):
    print(f"context_menu_blender: {msg}", flush=True)


def fail(msg):
    log(f"FAILED: {msg}")
    raise SystemExit(1)  # from a timer: Blender exits with this code


def steps():
    link = sys.modules["knoblink"].link
    while not (link.running() and link.running().server and link.running().server.clients):
        yield 0.2
    xin = gi.XInput()
    props = gi.area_of("PROPERTIES")
    props.spaces.active.context = "OBJECT"
    yield 0.3
    x, y = yield from gi.find_property(xin, gi.region_of(props), PATH)
    log(f"the field of {PATH} is at {x},{y}")
    prop = yield from gi.open_context_menu(xin, x, y)
    log(f"right-click at {x},{y}: the context menu of '{prop}' is open")
    fx, fy = yield from gi.find_menu_item(xin, x, y, FORGET)
    lx, ly = yield from gi.find_menu_item(xin, fx, fy, LEARN)
    log(f"menu items: Map to Controller at {lx},{ly}, Forget Mapping at {fx},{fy}")
    log(f"clicking Map to Controller at {lx},{ly}")
    xin.click(gi.LEFT)
    yield 0.5
    gi.park(xin)
    log("clicked")


gi.no_splash()
bpy.app.timers.register(gi.runner(steps(), fail, 90.0), first_interval=0.5)
