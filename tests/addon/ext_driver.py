"""Runs in PyPI bpy (python3 ext_driver.py SOURCE_DIR ZIP): packages the add-on
as an extension and installs it the way Blender 4.2+ does, then pumps the
drain until stdin closes.

- Build: `blender --command extension build` -- Blender's own handler
  (bl_pkg.bl_extension_cli.cli_extension_handler, with Blender's tag list),
  called in-process because PyPI bpy has no `blender` binary.
- Validate: `blender --command extension validate` on the zip.
- Install: Preferences > Get Extensions > Install from Disk, i.e.
  bpy.ops.extensions.package_install_files(repo="user_default", enable_on_install=True).
Prints `knoblink-ext: ...` lines the test checks; exits non-zero on any failure.
"""

import os
import sys
import threading

import bpy
import addon_utils
from bl_pkg import bl_extension_cli

MODULE = "bl_ext.user_default.knoblink"


def say(msg):
    print(f"knoblink-ext: {msg}", flush=True)


def main():
    source, zip_path = sys.argv[1], sys.argv[2]
    say(f"blender {bpy.app.version_string}")
    rc = bl_extension_cli.cli_extension_handler(
        ["build", "--source-dir", source, "--output-filepath", zip_path])
    if rc != 0:
        sys.exit(f"knoblink-ext: extension build failed (rc={rc})")
    rc = bl_extension_cli.cli_extension_handler(["validate", zip_path])
    if rc != 0:
        sys.exit(f"knoblink-ext: extension validate failed (rc={rc})")
    say(f"built {zip_path}")

    result = bpy.ops.extensions.package_install_files(
        filepath=zip_path, repo="user_default", enable_on_install=True)
    say(f"install {sorted(result)}")
    if result != {"FINISHED"}:
        sys.exit(1)
    enabled = [a.module for a in bpy.context.preferences.addons]
    mod = sys.modules.get(MODULE)
    if MODULE not in enabled or mod is None or not getattr(mod, "__addon_enabled__", False):
        sys.exit(f"knoblink-ext: {MODULE} not enabled; enabled add-ons: {enabled}")
    say(f"module {mod.__name__} {os.path.dirname(mod.__file__)}")
    say(f"preferences {type(bpy.context.preferences.addons[MODULE].preferences).__name__}")
    link = mod.link.running()
    if link is None or link.server is None:
        sys.exit("knoblink-ext: not listening: " + (link.error if link else "not started"))

    stop = threading.Event()

    def until_eof():
        try:
            while os.read(0, 65536):
                pass
        except OSError:
            pass
        stop.set()
    threading.Thread(target=until_eof, daemon=True).start()
    while not stop.is_set():  # background: no timers, pump the drain (as run_knoblink.py)
        mod.pump()
        link = mod.link.running()
        if link is None or not len(link.queue):
            stop.wait(0.005)
    addon_utils.disable(MODULE, default_set=False)
    say("disabled")


main()
