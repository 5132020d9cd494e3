"""Real mouse and keyboard input for scripts running inside Blender's GUI (under Xvfb):
scripts/screenshot_blender.py and the right-click test (tests/addon/context_menu_blender.py).

The events go through the X server's XTEST extension (libXtst via ctypes), so Blender
gets them as it gets a person's: from X, through its event loop, into its handlers and
menus. Window.event_simulate is no way out: it needs --enable-event-simulate, which
also stops bpy.app.timers, so the add-on would never drain.

Every step that needs Blender to handle the events first is a generator: it yields the
pause (seconds) before it goes on, so it runs in a bpy.app.timers function (see
runner()); use it with `yield from`.

Blender 3.4 has no Python API for where a button is on screen, so find_property()
and find_menu_item() ask Blender itself: the pointer is moved along a column and, at
each stop, Blender's own copy keys are pressed: Ctrl+Shift+Alt+C over a property copies
its full data path (ui.copy_data_path_button), Ctrl+C over a menu item copies its
Python command (bpy.ops.knoblink.learn()). The clipboard says what is under the
pointer; no pixel and no layout constant is guessed.
"""

import ctypes
import os
import time
import traceback

import bpy

LEFT, MIDDLE, RIGHT, WHEEL_UP, WHEEL_DOWN = 1, 2, 3, 4, 5
STEP_S = 0.08  # a pause for Blender to handle an event (its loop sleeps 5 ms between passes)


class GuiError(Exception):
    """Something on screen is not where or what it should be."""


class XInput:
    """Real pointer and key input through XTEST. Positions are Blender window
    coordinates (origin bottom left; X's root window is top left)."""

    def __init__(self):
        self.x11 = ctypes.CDLL("libX11.so.6")
        self.xtst = ctypes.CDLL("libXtst.so.6")
        vp, ul, ui, i = ctypes.c_void_p, ctypes.c_ulong, ctypes.c_uint, ctypes.c_int
        self.x11.XOpenDisplay.restype = vp
        self.x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
        self.x11.XFlush.argtypes = [vp]
        self.x11.XDefaultScreen.argtypes = [vp]
        self.x11.XDisplayHeight.argtypes = [vp, i]
        self.x11.XStringToKeysym.argtypes = [ctypes.c_char_p]
        self.x11.XStringToKeysym.restype = ul
        self.x11.XKeysymToKeycode.argtypes = [vp, ul]
        self.x11.XKeysymToKeycode.restype = ctypes.c_ubyte
        self.xtst.XTestFakeMotionEvent.argtypes = [vp, i, i, i, ul]
        self.xtst.XTestFakeButtonEvent.argtypes = [vp, ui, i, ul]
        self.xtst.XTestFakeKeyEvent.argtypes = [vp, ui, i, ul]
        self.dpy = self.x11.XOpenDisplay(None)
        if not self.dpy:
            raise GuiError(f"cannot open X display {os.environ.get('DISPLAY')!r}")
        self.height = self.x11.XDisplayHeight(self.dpy, self.x11.XDefaultScreen(self.dpy))
        self.at = (0, 0)

    def move(self, win, x, y):
        self.at = (int(x), int(y))
        self.xtst.XTestFakeMotionEvent(self.dpy, -1, int(win.x + x), int(self.height - (win.y + y)), 0)
        self.x11.XFlush(self.dpy)

    def button(self, button, down):
        self.xtst.XTestFakeButtonEvent(self.dpy, button, 1 if down else 0, 0)
        self.x11.XFlush(self.dpy)

    def click(self, button):
        self.button(button, True)
        self.button(button, False)

    def keys(self, *names):
        """Press the keys (X keysym names: "Control_L", "c") in order, release them backwards."""
        codes = []
        for name in names:
            code = self.x11.XKeysymToKeycode(self.dpy, self.x11.XStringToKeysym(name.encode()))
            if not code:
                raise GuiError(f"no key for keysym {name!r} on this X server")
            codes.append(code)
        for code in codes:
            self.xtst.XTestFakeKeyEvent(self.dpy, code, 1, 0)
        for code in reversed(codes):
            self.xtst.XTestFakeKeyEvent(self.dpy, code, 0, 0)
        self.x11.XFlush(self.dpy)


def no_splash():
    """Call at a --python script's top level: the first-run splash (Quick Setup, as in a
    fresh temp HOME) opens after the --python scripts ran; it would cover the window and
    swallow the input."""
    bpy.context.preferences.view.show_splash = False


def window():
    return bpy.context.window_manager.windows[0]


def area_of(kind):
    """The window's biggest area of this type (VIEW_3D, PROPERTIES, ...)."""
    areas = [a for a in window().screen.areas if a.type == kind]
    if not areas:
        raise GuiError(f"no {kind} area in the window")
    return max(areas, key=lambda a: a.width * a.height)


def region_of(area, kind="WINDOW"):
    return next(r for r in area.regions if r.type == kind)


def park(xin):
    """The pointer over the timeline (the lowest area), so nothing else shows a hover."""
    win = window()
    timeline = min(win.screen.areas, key=lambda a: a.y)
    xin.move(win, timeline.x + timeline.width // 2, timeline.y + timeline.height // 2)


def _under_pointer(xin, keys, settle=STEP_S):
    """What Blender copies with these keys for the button under the pointer ("" for none).
    Two timer calls: bpy.app.timers run early in a pass of Blender's loop, before the
    events that pass read are handled, so the answer is read a pass later. (It takes the
    clipboard: these scripts run in a Blender of their own.)"""
    wm = bpy.context.window_manager
    wm.clipboard = ""
    xin.keys(*keys)
    yield settle
    yield 0.0
    return wm.clipboard


def _scan(xin, x, ys, keys, want, what, settle=STEP_S):
    """The first y of ys where the keys copy want with the pointer at (x, y); asked twice
    there, so a late answer from the stop before cannot pass for this one."""
    win = window()
    seen = []
    for y in ys:
        xin.move(win, x, y)  # (X delivers in order: Blender sees the move, then the keys)
        got = yield from _under_pointer(xin, keys, settle)
        if got == want and (yield from _under_pointer(xin, keys, settle)) == want:
            return y
        if got and (not seen or seen[-1][1] != got):
            seen.append((y, got))
    raise GuiError(f"{what}: {want!r} not found along x={x} (found: {seen or 'nothing'})")


def _down(xin, region, column, step, keys, want, what):
    """(x, y) where keys copy want, the pointer going down region at `column` of its width."""
    x = region.x + int(region.width * column)
    top, bottom = region.y + region.height - 4, region.y + 4
    y = yield from _scan(xin, x, range(top, bottom, -step), keys, want, what)
    return x, y


def find_property(xin, region, path, column=0.6, step=10):
    """Window coordinates (x, y) of the field of path (a full data path, Copy Full Data
    Path's spelling) in region: where Ctrl+Shift+Alt+C copies path."""
    return (yield from _down(xin, region, column, step, ("Control_L", "Shift_L", "Alt_L", "c"), path,
                             f"the field of {path}"))


def find_button(xin, region, command, column=0.5, step=10):
    """Window coordinates of the button in region whose Python command (what Ctrl+C copies
    over it) is command, e.g. "bpy.ops.knoblink.record_toggle()"."""
    return (yield from _down(xin, region, column, step, ("Control_L", "c"), command, f"the button {command}"))


def find_menu_item(xin, x, y, command, step=8, reach=700):
    """Window coordinates of the item of an open menu whose Python command (what Ctrl+C
    copies over it) is command, e.g. "bpy.ops.knoblink.learn()". The pointer starts
    at (x, y) (where the menu opened) and goes down, then up."""
    keys = ("Control_L", "c")
    win = window()
    down = range(y - step, max(y - reach, 4), -step)
    up = range(y + step, min(y + reach, win.height - 4), step)
    try:
        found = yield from _scan(xin, x, down, keys, command, f"the menu item {command}")
    except GuiError:
        found = yield from _scan(xin, x, up, keys, command, f"the menu item {command}")
    return x, found


class MenuWatch:
    """Tells when the property context menu (UI_MT_button_context_menu) was drawn and
    over which property: a draw function appended to it, removed by close()."""

    def __init__(self):
        self.drawn = []  # (monotonic time, button_prop identifier)
        bpy.types.UI_MT_button_context_menu.append(self._draw)

    def _draw(self, _menu, context):
        prop = getattr(context, "button_prop", None)
        self.drawn.append((time.monotonic(), getattr(prop, "identifier", "")))

    def since(self, t):
        return [ident for when, ident in self.drawn if when >= t]

    def close(self):
        bpy.types.UI_MT_button_context_menu.remove(self._draw)


def open_context_menu(xin, x, y, timeout=30.0):
    """A real right-click at (x, y); returns once the property context menu is drawn
    (the button's property identifier), GuiError if it never is."""
    watch = MenuWatch()
    try:
        win = window()
        xin.move(win, x, y)
        yield STEP_S
        t0 = time.monotonic()
        xin.click(RIGHT)
        while not watch.since(t0):
            if time.monotonic() - t0 > timeout:
                raise GuiError(f"no property context menu within {timeout:.0f} s of the right-click at {x},{y}")
            yield STEP_S
        return watch.since(t0)[0]
    finally:
        watch.close()


def runner(steps, fail, timeout):
    """A bpy.app.timers function that runs the generator steps (each yield: the pause
    before the next step) and calls fail(message) on GuiError or after timeout seconds."""
    t0 = time.monotonic()

    def tick():
        if time.monotonic() - t0 > timeout:
            fail(f"gave up after {timeout:.0f} s")
        try:
            return next(steps)
        except StopIteration:
            return None
        except GuiError as e:
            fail(str(e))
        except Exception:  # a bug in a step: said, not a timer silently gone
            fail(traceback.format_exc())
    return tick
