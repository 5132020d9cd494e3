"""The right-click menu item *Map to Controller* opened and clicked by a real mouse in
Debian's Blender 3.4 under Xvfb (tests/addon/context_menu_blender.py moves the pointer and
clicks through X): the add-on sends the learn of exactly the property clicked to the
connected client (docs/protocol.md, "Learn and forget")."""

import os
import time

from conftest import Client
from test_live import LOC1, Blender

HERE = os.path.dirname(os.path.abspath(__file__))
CLICKING = "context_menu_blender: clicking Map to Controller"


def test_right_click_map_to_controller_learns_that_property(tmp_path):
    b = Blender(tmp_path, python=[os.path.join(HERE, "context_menu_blender.py")], screen="1280x900")
    try:
        c = Client(b.port, name="bridge", env=b.env)  # a learn goes out only with a client connected
        t0 = time.monotonic()
        try:
            ev = c.wait(lambda m: m.get("ev") in ("learn", "forget"), timeout=75,
                        what="learn event (from the click on Map to Controller)")
        except AssertionError as e:
            raise AssertionError(f"{e}\nBlender's output:\n" + "\n".join(b.out[-30:] + b.err[-30:])) from None
        took = time.monotonic() - t0
        while not any(CLICKING in line for line in b.out) and time.monotonic() - t0 < took + 5:
            time.sleep(0.05)  # (Blender's stdout is read by a thread)
        out = "\n".join(b.out)
        assert CLICKING in out, out[-3000:]  # sent after the click, not before
        assert "the context menu of 'location' is open" in out, out[-3000:]
        assert ev == {"ev": "learn", "path": LOC1, "kind": "FLOAT", "min": ev["min"], "max": ev["max"]}, ev
        assert ev["min"] < ev["max"], ev
        c.close()
        print(f"learn event {took:.1f} s after the client connected: {ev}")
    finally:
        b.kill()
    assert "Traceback" not in b.stderr() + "\n".join(b.out), b.stderr()[-3000:]
