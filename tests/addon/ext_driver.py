"""Runs in PyPI bpy (python3 ext_driver.py SOURCE_DIR ZIP [--prebuilt] [--quit]):
packages the add-on as an extension and installs it the way Blender 4.2+ does,
then pumps the drain until stdin closes.

--prebuilt: ZIP is already built (scripts/package's zip with the bridge); only
validate and install it. Lines on stdin while it runs: `bridge off` / `bridge on`
set the preference that runs the bundled bridge. --quit: at stdin EOF exit
without disabling the add-on, as a Blender that quits (atexit must clean up).

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

import bpy
import addon_utils
from bl_pkg import bl_extension_cli

from pump_stdin import pump_until_eof

MODULE = "bl_ext.user_default.knoblink"


def say(msg):
    print(f"knoblink-ext: {msg}", flush=True)


def main():
    source, zip_path = sys.argv[1], sys.argv[2]
    prebuilt, quit_at_eof = "--prebuilt" in sys.argv[3:], "--quit" in sys.argv[3:]
    say(f"blender {bpy.app.version_string}")
    if not prebuilt:
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

    bridge = mod.bridge_process.running()
    say(f"bridge {bridge.summary() if bridge else 'none'}")

    pump_until_eof(mod, bpy.context.preferences.addons[MODULE].preferences, say)
    if quit_at_eof:
        say("quitting")
        sys.exit(0)
    addon_utils.disable(MODULE, default_set=False)
    say("disabled")


main()
