"""Takes the screenshots of docs/blender.md (run by scripts/screenshot, inside Blender's GUI
while `knoblink demo` drives it; timers fire there), after the add-on is enabled.

$KNOBLINK_SHOTS names the shots, in order (a comma list; every one by default), each saved
as $KNOBLINK_SHOT_DIR/knoblink-NAME.png (written under a temp name, then renamed, so a
watcher never sees half a file); $KNOBLINK_SHOT_DIR/done is written after the last one.
It does not quit Blender: whoever started it stops it.

  panel   the 3D view with the KnobLink tab while the box drives the scene: the box open,
          mappings with values, both latency stages (docs/img/knoblink-panel.png)
  record  the same while a take records: Record clicked, the timeline playing
  error   the same after a broken save of the mapping file: its problems as FILE:LINE:COL
          (the file is put back afterwards)
  menu    the Properties editor's Location Y right-clicked: the context menu with
          Map to Controller (hovered) and Forget Mapping. scripts/screenshot takes it in a
          Blender of its own, without the demo: the menu needs no bridge, and while the
          knobs move each pass of Blender's loop redraws the window (seconds under load),
          while finding the field and the item takes a hundred passes.

Everything a person would do is done with real X input (scripts/gui_input.py): the
sidebar's edge dragged wider, the wheel over its tabs, the Record button clicked, Space to
play, the right-click. Blender 3.4 has no RNA for a sidebar's active tab nor its width. A
draw function appended to the panel tells when the KnobLink tab is the one on screen.
"""

import array
import os
import sys
import time

import bpy

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gui_input as gi  # noqa: E402

SHOTS = ("panel", "record", "error", "menu")
OUT_DIR = os.environ.get("KNOBLINK_SHOT_DIR", "")
WANTED = [s for s in os.environ.get("KNOBLINK_SHOTS", ",".join(SHOTS)).split(",") if s]
SETTLE_S = 4.0       # commands flowing this long before the first shot
GOOD_RATE = 5.0      # commands/s worth showing; after RATE_WAIT_S any non-zero rate will do
RATE_WAIT_S = 20.0
RECORD_S = 3.0       # the take runs this long before its shot
WIDEN_PX = 200       # the default sidebar cuts the mappings' targets short
TIMEOUT_S = 300.0    # a loaded machine: the first timer can take a minute under Xvfb
MENU_PATH = 'bpy.data.objects["Cube"].location[1]'
# The broken save: two values the file's grammar refuses (docs/mapping.md).
BREAK = (("to: [-2, 2]", "to: [-2, two]"), ("deadband: 2 ", "deadband: -2 "))


T0 = time.monotonic()


def log(msg):
    line = f"screenshot_blender: {time.monotonic() - T0:5.1f} s: {msg}"
    print(line, flush=True)
    if os.environ.get("KNOBLINK_SHOT_LOG"):  # scripts/screenshot shows these
        with open(os.environ["KNOBLINK_SHOT_LOG"], "a") as f:
            f.write(line + "\n")


def fail(msg):
    log(msg)
    raise SystemExit(1)  # from a timer: Blender exits with this code


def running():
    return sys.modules["knoblink"].link.running()


def link_status():
    link = running()
    if link is None or link.server is None:
        return 0, 0.0
    return len(link.server.clients), link.rate


def bridge():
    """The first bridge that sent a status (the panel's snapshot), else None."""
    link = running()
    snap = link.panel.snapshot() if link is not None else {"bridges": []}
    return next((b for b in snap["bridges"] if b["status"]), None), snap


def panel_ready():
    """What the panel shot must show (docs/blender.md): a bridge's status with its box
    open, mappings with values, and both latency stages measured. '' when all is there,
    else what is still missing."""
    b, snap = bridge()
    if b is None:
        return "a bridge's status"
    if not b["status"]["devices"] or b["status"]["devices"][0]["state"] != "open":
        return "the box open"
    if sum(m["value"] is not None for m in b["mappings"]) < 3:
        return "mapping values"
    if not b["status"]["latency"].get("read_to_sent", {}).get("total", {}).get("n"):
        return "the bridge's latency"
    if not snap["latency"]["received_to_applied"]["total"]["n"]:
        return "the add-on's latency"
    return ""


def sidebar():
    area = gi.area_of("VIEW_3D")
    return area, gi.region_of(area, "UI")


def redraw_sidebar():
    sidebar()[1].tag_redraw()
    yield 0.5  # let the panel show the latest numbers


def save(name, crop=None):
    """The 3D view (the area with the sidebar) as knoblink-NAME.png; crop: (x, y, w, h) of
    the window instead."""
    win = gi.window()
    area, _ = sidebar()
    tmp = os.path.join(OUT_DIR, f"knoblink-{name}.png.part.png")
    with bpy.context.temp_override(window=win, screen=win.screen, area=area):
        if crop:
            bpy.ops.screen.screenshot(filepath=tmp, check_existing=False)
        else:
            bpy.ops.screen.screenshot_area(filepath=tmp, check_existing=False)
    if not os.path.exists(tmp):
        fail(f"Blender's screenshot operator wrote nothing to {tmp}")
    compact(tmp, crop)
    out = os.path.join(OUT_DIR, f"knoblink-{name}.png")
    os.replace(tmp, out)
    clients, rate = link_status()
    load = os.getloadavg()
    log(f"saved {out} (clients {clients}, {rate:.0f} commands/s; load average {load[0]:.2f} {load[1]:.2f} "
        f"on {os.cpu_count()} cores)")


def compact(path, crop=None):
    """Re-save as RGB (no alpha) at PNG's best compression (a smaller file), cut to crop."""
    img = bpy.data.images.load(path)
    if crop:  # (Debian's Blender has no numpy: an array of floats, row by row)
        w, h = img.size
        px = array.array("f", bytes(4 * w * h * 4))
        img.pixels.foreach_get(px)
        x, y, cw, ch = (int(v) for v in crop)
        x, y = max(x, 0), max(y, 0)
        cw, ch = min(cw, w - x), min(ch, h - y)
        part = array.array("f")
        for row in range(y, y + ch):  # rows from the bottom, as the window's coordinates
            part.extend(px[(row * w + x) * 4:(row * w + x + cw) * 4])
        bpy.data.images.remove(img)
        img = bpy.data.images.new("knoblink-crop", cw, ch)
        img.pixels.foreach_set(part)
    s = bpy.context.scene.render.image_settings
    s.file_format, s.color_mode, s.color_depth, s.compression = "PNG", "RGB", "8", 100
    img.save_render(path, scene=bpy.context.scene)
    bpy.data.images.remove(img)


UI_SCALE = 0.92


def setup(xin):
    """The sidebar open, widened, on the KnobLink tab."""
    # A little smaller than Blender's default, so the whole panel (down to the add-on's
    # latency) fits the 3D view of a 1280x900 window.
    bpy.context.preferences.view.ui_scale = UI_SCALE
    yield 0.3
    area, ui = sidebar()
    area.spaces.active.show_region_ui = True
    win = gi.window()
    log(f"window {win.width}x{win.height} at {win.x},{win.y}; 3D view {area.width}x{area.height}")
    yield 0.5

    # Widen the sidebar: drag its left edge to the left. The sidebar overlaps
    # the viewport, so that edge's grip sits 0.4 widget units (8 px at scale 1) inside.
    area, ui = sidebar()
    before, y, x = ui.width, ui.y + ui.height // 2, ui.x + round(9 * UI_SCALE)
    xin.move(win, x, y)
    yield 0.2
    xin.button(gi.LEFT, True)
    yield 0.2
    for dx in range(40, WIDEN_PX + 1, 40):  # (each step costs a pass of Blender's loop: a redraw)
        xin.move(win, x - dx, y)
        yield 0.05
    xin.button(gi.LEFT, False)
    gi.park(xin)
    yield 0.5
    area, ui = sidebar()
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
        area, ui = sidebar()
        xin.move(win, ui.x + ui.width - 8, ui.y + ui.height // 2)  # the tabs: ~20 px at the right edge
        xin.click(gi.WHEEL_DOWN if steps < 6 else gi.WHEEL_UP)
        gi.park(xin)
        yield 0.2
    log(f"KnobLink tab up after {steps} wheel steps")


def shot_panel(_xin):
    """Commands flowing for a while (and at a rate worth showing, if it comes), and the
    panel showing the box, mappings with values and both latencies."""
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
    yield from redraw_sidebar()
    b, snap = bridge()
    bridge_stage = b["status"]["latency"]["read_to_sent"]
    log(f"latency: bridge p50 {bridge_stage.get('p50_us')} us p99 {bridge_stage.get('p99_us')} us; add-on "
        f"p50 {snap['latency']['received_to_applied'].get('p50_us')} us "
        f"p99 {snap['latency']['received_to_applied'].get('p99_us')} us")
    save("panel")


def click_record(xin, at=None):
    """A real click on the panel's Record button (found by the command Ctrl+C copies over
    it, unless at is where it is); returns where it is."""
    if at is None:
        _, ui = sidebar()
        at = yield from gi.find_button(xin, ui, "bpy.ops.knoblink.record_toggle()")
    xin.move(gi.window(), *at)
    yield 0.1
    xin.click(gi.LEFT)
    yield 0.3
    gi.park(xin)
    return at


def play_key(xin):
    """Space over the viewport (left of the sidebar): play or pause the timeline."""
    area, ui = sidebar()
    xin.move(gi.window(), area.x + (ui.x - area.x) // 2, area.y + area.height // 2)
    yield 0.1
    xin.keys("space")
    yield 0.3
    gi.park(xin)


def shot_record(xin):
    rec = running().recorder
    at = yield from click_record(xin)
    if not rec.on:
        fail("the click on Record did not start recording")
    yield from play_key(xin)
    t0 = time.monotonic()
    while rec.take is None or time.monotonic() - t0 < RECORD_S:
        if time.monotonic() - t0 > 30:
            fail("recording on and the timeline playing, but no take began within 30 s")
        yield 0.2
    yield from redraw_sidebar()
    save("record")
    yield from click_record(xin, at)  # the take ends (thinned into F-curves)
    yield from play_key(xin)
    log(f"take: {rec.last_take}")


def shot_error(_xin):
    """A broken save of the demo's mapping file (a copy: scripts/screenshot's), its problems
    in the panel, then the file put back (the next save loads again)."""
    b, _ = bridge()
    path = b["status"]["file"]
    with open(path) as f:
        good = f.read()
    bad = good
    for old, new in BREAK:
        if old not in bad:
            fail(f"{path} has no '{old}' to break")
        bad = bad.replace(old, new, 1)

    def write(text):
        with open(path + ".tmp", "w") as f:
            f.write(text)
        os.replace(path + ".tmp", path)  # as an editor saves

    write(bad)
    t0 = time.monotonic()
    while not bridge()[0]["status"]["config_errors"]:
        if time.monotonic() - t0 > 20:
            fail(f"the broken save of {path} never showed in the panel")
        yield 0.2
    yield from redraw_sidebar()
    log(f"config errors: {bridge()[0]['status']['config_errors']}")
    save("error")
    write(good)
    while bridge()[0]["status"]["config_errors"]:
        if time.monotonic() - t0 > 40:
            fail(f"{path} put back, but the panel still shows its problems")
        yield 0.2


def shot_menu(xin):
    props = gi.area_of("PROPERTIES")
    props.spaces.active.context = "OBJECT"
    bpy.context.preferences.view.show_tooltips = False  # a hovered item's tooltip would cover the menu
    yield 0.3
    x, y = yield from gi.find_property(xin, gi.region_of(props), MENU_PATH)
    prop = yield from gi.open_context_menu(xin, x, y)
    yield from gi.find_menu_item(xin, x, y, "bpy.ops.knoblink.learn()")  # the pointer stays on it
    yield 0.5
    log(f"context menu of '{prop}' open, Map to Controller hovered")
    win = gi.window()
    left = props.x - 300  # the menu opens left of the pointer when the window's edge is near
    save("menu", crop=(left, 0, win.width - left, props.y + props.height))
    xin.keys("Escape")
    yield 0.2
    gi.park(xin)


def script():
    xin = gi.XInput()
    if set(WANTED) - {"menu"}:
        yield from setup(xin)
    for name in WANTED:
        log(f"shot {name}")
        yield from globals()[f"shot_{name}"](xin)
    with open(os.path.join(OUT_DIR, "done"), "w") as f:
        f.write(" ".join(WANTED) + "\n")
    log("done")


if not OUT_DIR:
    sys.exit("screenshot_blender: set KNOBLINK_SHOT_DIR to the folder to write to")
if bpy.app.background:
    sys.exit("screenshot_blender: needs Blender's GUI (no --background)")
if set(WANTED) - set(SHOTS):
    sys.exit(f"screenshot_blender: unknown shots {sorted(set(WANTED) - set(SHOTS))}; there are {', '.join(SHOTS)}")
gi.no_splash()
bpy.app.timers.register(gi.runner(script(), lambda msg: fail(
    f"{msg} (clients {link_status()[0]}, {link_status()[1]:.0f} commands/s; panel waiting for "
    f"{panel_ready() or 'nothing'})"), TIMEOUT_S), first_interval=1.0)
