"""The drivers' main loop in a background Blender or PyPI bpy (no timers fire there):
pump the add-on's drain until stdin closes, and act on the lines it sends on the main
thread, as the UI would: `bridge off` / `bridge on` set the bundled bridge's preference.
Used by ext_driver.py (bpy 5.0) and tests/package/legacy_driver.py (Blender 3.4)."""

import queue
import sys
import threading


def pump_until_eof(mod, prefs, say):
    """mod: the enabled add-on's module; prefs: its preferences; say: prints a line."""
    done = threading.Event()
    lines = queue.SimpleQueue()

    def until_eof():
        for line in sys.stdin:
            lines.put(line.strip())
        done.set()
    threading.Thread(target=until_eof, daemon=True).start()
    while not done.is_set():
        mod.pump()
        while not lines.empty():
            line = lines.get()
            if line in ("bridge off", "bridge on"):
                prefs.run_bridge = line == "bridge on"
                bridge = mod.bridge_process.running()
                say(f"{line}: {bridge.summary() if bridge else 'no bridge'}")
        link = mod.link.running()
        if link is None or not len(link.queue):
            done.wait(0.005)
