"""Runs in Debian's Blender 3.4 (blender -b --python legacy_driver.py -- ZIP): installs the
extension zip the way 3.4 installs any add-on zip (Preferences > Add-ons > Install, i.e.
bpy.ops.preferences.addon_install), enables it, then pumps the drain until stdin closes
(background Blender fires no timers) and returns, which quits Blender without disabling the
add-on. Lines on stdin: `bridge off` / `bridge on` set the bundled bridge's preference.
Prints `knoblink-ext: ...` lines, like tests/addon/ext_driver.py.
"""

import queue
import sys
import threading

import addon_utils
import bpy


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
    lines = queue.SimpleQueue()
    done = threading.Event()

    def until_eof():
        for line in sys.stdin:
            lines.put(line.strip())
        done.set()
    threading.Thread(target=until_eof, daemon=True).start()
    prefs = bpy.context.preferences.addons["knoblink"].preferences
    while not done.is_set():
        mod.pump()
        while not lines.empty():
            line = lines.get()
            if line in ("bridge off", "bridge on"):
                prefs.run_bridge = line == "bridge on"
                b = mod.bridge_process.running()
                say(f"{line}: {b.summary() if b else 'no bridge'}")
        done.wait(0.005)
    say("quitting")


main()
