"""Runs the KnobLink add-on until stdin closes, SIGTERM or SIGINT.

Inside Blender (the add-on enabled with --addons knoblink):
  blender -b [FILE.blend] --addons knoblink --python addon/run_knoblink.py -- [--no-stdin] [--pidfile F]
                                                                             [--parent-pid PID]
With PyPI bpy (BLENDER_USER_SCRIPTS=DIR holding DIR/addons/knoblink):
  python3 addon/run_knoblink.py [--scene FILE.blend] [--no-stdin]

Background Blender never fires timers, so here the drain is pumped every
5 ms (at once again while commands are queued), and after a drain that
applied something the scene is evaluated as a window's event loop would
(a frame change runs the frame handlers, animation and drivers). With a
window the add-on's own timer drains and this script only quits Blender
when asked.
"""

import argparse
import os
import signal
import sys
import threading

import bpy  # first: it puts addon_utils on sys.path (PyPI bpy)
import addon_utils  # noqa: E402

ADDON = "knoblink"


def options():
    if "--" in sys.argv:
        argv = sys.argv[sys.argv.index("--") + 1:]
    else:
        argv = sys.argv[1:] if not bpy.app.binary_path else []
    ap = argparse.ArgumentParser(prog="run_knoblink.py")
    ap.add_argument("--scene", help="a .blend to open first (PyPI bpy; Blender takes it on its command line)")
    ap.add_argument("--no-stdin", action="store_true", help="ignore stdin; run until SIGTERM/SIGINT")
    ap.add_argument("--pidfile", help="write this process id here")
    ap.add_argument("--parent-pid", type=int, help="also stop when this process is gone (the launcher)")
    return ap.parse_args(argv)


def main():
    opts = options()
    if opts.pidfile:
        with open(opts.pidfile, "w") as f:
            f.write(f"{os.getpid()}\n")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    if not opts.no_stdin:
        threading.Thread(target=_until_eof, args=(stop,), name="knoblink-stdin", daemon=True).start()
    if opts.parent_pid:
        threading.Thread(target=_until_gone, args=(opts.parent_pid, stop), name="knoblink-parent",
                         daemon=True).start()

    mod = sys.modules.get(ADDON)
    if mod is None or not getattr(mod, "__addon_enabled__", False):
        if opts.scene:
            bpy.ops.wm.open_mainfile(filepath=opts.scene)
        mod = addon_utils.enable(ADDON, default_set=True)
        if mod is None:
            sys.exit(f"run_knoblink: could not enable the {ADDON} add-on "
                     f"(BLENDER_USER_SCRIPTS={os.environ.get('BLENDER_USER_SCRIPTS')!r})")
    link = mod.link.running()
    if link is None or link.server is None:
        sys.exit("run_knoblink: the add-on is not listening: " + (link.error if link else "not started"))

    if not bpy.app.background:
        def quit_when_asked():
            if stop.is_set():
                bpy.ops.wm.quit_blender()
                return None
            return 0.05
        bpy.app.timers.register(quit_when_asked, persistent=True)
        return

    frame = bpy.context.scene.frame_current
    while not stop.is_set():
        if mod.pump():
            frame = _evaluate(frame)
        link = mod.link.running()
        if link is None or not len(link.queue):
            stop.wait(0.005)
    addon_utils.disable(ADDON, default_set=False)


def _evaluate(frame):
    """After applied commands, what a window's event loop does: a new frame is
    a frame change (handlers, animation, drivers: ED_update_for_newframe),
    anything else a depsgraph update. Returns the current frame."""
    scene = bpy.context.scene
    if scene.frame_current != frame:
        scene.frame_set(scene.frame_current)
    else:
        bpy.context.view_layer.update()
    return scene.frame_current


def _until_gone(pid, stop):
    while not stop.wait(0.5):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            stop.set()


def _until_eof(stop):
    try:
        while os.read(0, 65536):
            pass
    except OSError:
        pass
    stop.set()


main()
