"""Takes the docs screenshot of the KnobLink sidebar panel (run by scripts/screenshot).

Runs inside Blender's GUI (timers fire there), after the add-on is enabled:
opens the 3D view's sidebar, widens it so the address fits, brings its KnobLink
tab to the front, waits until a client is connected and commands are flowing,
then saves a screenshot of the 3D view area to $KNOBLINK_SHOT_OUT (written
under a temp name, then renamed, so a watcher never sees half a file). It does
not quit Blender: whoever started it stops it once the file exists.

Blender 3.4 has no RNA for a sidebar's active tab (Region.active_panel_category
came later) nor for its width, so both are done like a person would: the mouse
wheel over the sidebar's tab strip and a drag of its edge, as real X input
through XTEST (libXtst via ctypes). Window.event_simulate is no way out: it
needs --enable-event-simulate, which also stops bpy.app.timers, so the add-on
would never drain. A draw function appended to the panel tells when the
KnobLink tab is the one on screen.
"""

import ctypes
import os
import sys
import time

import bpy

OUT = os.environ.get("KNOBLINK_SHOT_OUT", "")
SETTLE_S = 4.0       # commands flowing this long before the shot
GOOD_RATE = 5.0      # commands/s worth showing; after RATE_WAIT_S any non-zero rate will do
RATE_WAIT_S = 20.0
WIDEN_PX = 200       # the default sidebar cuts the mappings' targets short
TIMEOUT_S = 300.0    # a loaded machine: the first timer can take a minute under Xvfb
WHEEL_UP, WHEEL_DOWN, LEFT = 4, 5, 1


def log(msg):
    line = f"screenshot_blender: {msg}"
    print(line, flush=True)
    if os.environ.get("KNOBLINK_SHOT_LOG"):  # scripts/screenshot shows these
        with open(os.environ["KNOBLINK_SHOT_LOG"], "a") as f:
            f.write(line + "\n")


def fail(msg):
    log(msg)
    raise SystemExit(1)  # from a timer: Blender exits with this code


def view3d():
    win = bpy.context.window_manager.windows[0]
    for area in win.screen.areas:
        if area.type == "VIEW_3D":
            return win, area, next(r for r in area.regions if r.type == "UI")
    fail("no 3D view in the window")


def link_status():
    mod = sys.modules.get("knoblink")
    link = mod and mod.link.running()
    if link is None or link.server is None:
        return 0, 0.0
    return len(link.server.clients), link.rate


def panel_ready():
    """What the docs' picture must show (docs/blender.md): a bridge's status with its box
    open, mappings with values, and both latency stages measured. '' when all is there,
    else what is still missing."""
    link = sys.modules["knoblink"].link.running()
    snap = link.panel.snapshot() if link is not None else {"bridges": []}
    bridges = [b for b in snap["bridges"] if b["status"]]
    if not bridges:
        return "a bridge's status"
    b = bridges[0]
    if not b["status"]["devices"] or b["status"]["devices"][0]["state"] != "open":
        return "the box open"
    if sum(m["value"] is not None for m in b["mappings"]) < 3:
        return "mapping values"
    if not b["status"]["latency"].get("read_to_sent", {}).get("total", {}).get("n"):
        return "the bridge's latency"
    if not snap["latency"]["received_to_applied"]["total"]["n"]:
        return "the add-on's latency"
    return ""


class XTest:
    """Real pointer input through the X server's XTEST extension."""

    def __init__(self):
        self.x11 = ctypes.CDLL("libX11.so.6")
        self.xtst = ctypes.CDLL("libXtst.so.6")
        vp, ul, ui, i = ctypes.c_void_p, ctypes.c_ulong, ctypes.c_uint, ctypes.c_int
        self.x11.XOpenDisplay.restype = vp
        self.x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
        self.x11.XFlush.argtypes = [vp]
        self.x11.XDefaultScreen.argtypes = [vp]
        self.x11.XDisplayHeight.argtypes = [vp, i]
        self.xtst.XTestFakeMotionEvent.argtypes = [vp, i, i, i, ul]
        self.xtst.XTestFakeButtonEvent.argtypes = [vp, ui, i, ul]
        self.dpy = self.x11.XOpenDisplay(None)
        if not self.dpy:
            fail(f"cannot open X display {os.environ.get('DISPLAY')!r}")
        self.height = self.x11.XDisplayHeight(self.dpy, self.x11.XDefaultScreen(self.dpy))

    def move(self, win, x, y):
        """To Blender window coordinates (origin bottom left; X's root is top left)."""
        self.xtst.XTestFakeMotionEvent(self.dpy, -1, int(win.x + x), int(self.height - (win.y + y)), 0)
        self.x11.XFlush(self.dpy)

    def button(self, button, down):
        self.xtst.XTestFakeButtonEvent(self.dpy, button, 1 if down else 0, 0)
        self.x11.XFlush(self.dpy)

    def click(self, button):
        self.button(button, True)
        self.button(button, False)


def park(xt, win):
    """The pointer over the timeline, so no sidebar button shows a hover."""
    timeline = min(win.screen.areas, key=lambda a: a.y)
    xt.move(win, timeline.x + timeline.width // 2, timeline.y + timeline.height // 2)


def script():
    """The steps, one per timer call; each yield is the pause before the next."""
    win, area, ui = view3d()
    area.spaces.active.show_region_ui = True
    log(f"window {win.width}x{win.height} at {win.x},{win.y}; 3D view {area.width}x{area.height}")
    yield 0.5
    xt = XTest()

    # Widen the sidebar: drag its left edge to the left. The sidebar overlaps
    # the viewport, so that edge's grip sits 0.4 widget units (8 px) inside.
    win, area, ui = view3d()
    before, y, x = ui.width, ui.y + ui.height // 2, ui.x + 9
    xt.move(win, x, y)
    yield 0.2
    xt.button(LEFT, True)
    yield 0.2
    for dx in range(10, WIDEN_PX + 1, 10):
        xt.move(win, x - dx, y)
        yield 0.05
    xt.button(LEFT, False)
    park(xt, win)
    yield 0.5
    win, area, ui = view3d()
    log(f"sidebar {before} -> {ui.width} px wide")

    # The KnobLink tab: ask for a sidebar redraw; if the panel's draw did not
    # run within a second, the wheel over the tab strip goes one tab on. The
    # wheel stops at the last tab rather than wrapping: after 6 steps down, up.
    drawn = [0.0]
    bpy.types.KNOBLINK_PT_panel.append(lambda _self, _ctx: drawn.__setitem__(0, time.monotonic()))
    for steps in range(13):
        asked = time.monotonic()
        ui.tag_redraw()
        while drawn[0] < asked and time.monotonic() - asked < 1.0:
            yield 0.1
        if drawn[0] >= asked:
            break
        if steps == 12:
            fail("the wheel over the sidebar's tabs never brought the KnobLink tab up")
        win, area, ui = view3d()
        xt.move(win, ui.x + ui.width - 8, ui.y + ui.height // 2)  # the tabs: ~20 px at the right edge
        xt.click(WHEEL_DOWN if steps < 6 else WHEEL_UP)
        park(xt, win)
        yield 0.2
    log(f"KnobLink tab up after {steps} wheel steps")

    # Commands flowing for a while (and at a rate worth showing, if it comes), and the
    # panel showing the box, mappings with values and both latencies.
    flowing = None
    while True:
        clients, rate = link_status()
        now = time.monotonic()
        if clients == 0 or rate <= 0:
            flowing = None
        else:
            flowing = flowing or now
            if now - flowing >= SETTLE_S and (rate >= GOOD_RATE or now - flowing >= RATE_WAIT_S) \
                    and not panel_ready():
                break
        yield 0.2

    ui.tag_redraw()
    yield 0.5  # let the panel show the latest numbers
    win, area, ui = view3d()
    tmp = OUT + ".part.png"
    with bpy.context.temp_override(window=win, screen=win.screen, area=area):
        bpy.ops.screen.screenshot_area(filepath=tmp, check_existing=False)
    if not os.path.exists(tmp):
        fail(f"screen.screenshot_area wrote nothing to {tmp}")
    compact(tmp)
    os.replace(tmp, OUT)
    clients, rate = link_status()
    log(f"saved {OUT} ({area.width}x{area.height}; clients {clients}, {rate:.0f} commands/s)")


def compact(path):
    """Re-save as RGB (no alpha) at PNG's best compression: a smaller file."""
    img = bpy.data.images.load(path)
    s = bpy.context.scene.render.image_settings
    s.file_format, s.color_mode, s.color_depth, s.compression = "PNG", "RGB", "8", 100
    img.save_render(path, scene=bpy.context.scene)
    bpy.data.images.remove(img)


def runner():
    steps = script()
    t0 = time.monotonic()

    def tick():
        if time.monotonic() - t0 > TIMEOUT_S:
            clients, rate = link_status()
            fail(f"gave up after {TIMEOUT_S:.0f} s (clients {clients}, {rate:.0f} commands/s; "
                 f"panel waiting for {panel_ready() or 'nothing'})")
        try:
            return next(steps)
        except StopIteration:
            return None
    return tick


if not OUT:
    sys.exit("screenshot_blender: set KNOBLINK_SHOT_OUT to the PNG to write")
if bpy.app.background:
    sys.exit("screenshot_blender: needs Blender's GUI (no --background)")
# The first-run splash (Quick Setup: a fresh temp HOME) would cover the view and
# swallow the input; it opens after the --python scripts ran, so say no now.
bpy.context.preferences.view.show_splash = False
bpy.app.timers.register(runner(), first_interval=1.0)
