"""Runs in Debian's Blender 3.4 (blender -b --python legacy_driver.py -- ZIP): installs the
extension zip the way 3.4 installs any add-on zip (Preferences > Add-ons > Install, i.e.
bpy.ops.preferences.addon_install), enables it, then pumps the drain until stdin closes
(background Blender fires no timers) and returns, which quits Blender without disabling the
add-on. Lines on stdin: `bridge off` / `bridge on` set the bundled bridge's preference.
Prints `knoblink-ext: ...` lines, like tests/addon/ext_driver.py.
"""

import os
import sys

import addon_utils
import bpy

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "addon"))
from pump_stdin import pump_until_eof  # noqa: E402


def say(msg):
    print(f"knoblink-ext: {msg}", flush=True)


def main():
    zip_path = sys.argv[sys.argv.index("--") + 1]
    say(f"blender {bpy.app.version_string}")
    result = bpy.ops.preferences.addon_install(filepath=zip_path)
    say(f"install {sorted(result)}")
    mod = addon_utils.enable("knoblink", default_set=True)
    if mod is None:
        sys.exit("knoblink-ext: knoblink not enabled")
    say(f"module {mod.__name__} {mod.__file__}")
    pump_until_eof(mod, bpy.context.preferences.addons["knoblink"].preferences, say)
    say("quitting")


main()
