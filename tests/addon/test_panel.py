"""The KnobLink panel's sections drawn from what a bridge sent, in PyPI bpy 5.0
(tests/addon/panel_driver.py): devices and their state, layers, recording, the
mappings with the target's value read in Blender, bridge and add-on errors (a
path Blender refuses), latencies; every icon one Blender has (docs/blender.md)."""

import json
import subprocess
import sys

from conftest import ADDON, isolated_env

HERE = ADDON.parents[1] / "tests" / "addon"


def test_panel_sections_show_the_bridge(tmp_path):
    env = isolated_env(tmp_path)
    r = subprocess.run([sys.executable, str(HERE / "panel_driver.py")], env=env, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    line = next(x for x in r.stdout.splitlines() if x.startswith("knoblink-panel-labels "))
    labels = json.loads(line.split(" ", 1)[1])
    hello = next(x for x in r.stdout.splitlines() if x.startswith("knoblink-panel: hello"))
    assert '"features": ["status"]' in hello
    text = {name: " ".join(t for t, _icon in out) for name, out in labels.items()}  # wrapped lines rejoined
    assert ["operator knoblink.record_toggle", "REC"] in labels["KNOBLINK_PT_panel"]  # record.draw
    assert ["box: lost", "ERROR"] in labels["KNOBLINK_PT_bridge"]
    assert "waiting: gone" in text["KNOBLINK_PT_bridge"] and "box.yaml, reloaded 1x" in text["KNOBLINK_PT_bridge"]
    assert ["/tmp/box.yaml:3:5: bad key", "ERROR"] in labels["KNOBLINK_PT_bridge"]
    assert ["shift", "RADIOBUT_ON"] in labels["KNOBLINK_PT_bridge"]
    assert "set Cube.location[0] 1.250" in text["KNOBLINK_PT_mappings"]  # read back in Blender
    assert "call screen.animation_play" in text["KNOBLINK_PT_mappings"]
    assert "box.b1 press" in text["KNOBLINK_PT_mappings"]
    assert ["box.k2", "ERROR"] in labels["KNOBLINK_PT_mappings"]  # learned, the file read-only
    assert "set Cube.location[1] (not saved)" in text["KNOBLINK_PT_mappings"]
    assert "location[0] (not saved)" not in text["KNOBLINK_PT_mappings"]
    errors = text["KNOBLINK_PT_errors"]
    assert "bridge, now (2x): Blender refused set x: not_found no x" in errors
    assert "add-on, now: not_found" in errors and "Nope" in errors
    lat = text["KNOBLINK_PT_latency"]
    assert "p50 0.08 ms  p99 0.41 ms (n 4, last 5 s)" in lat
    # The add-on's own stage: the two sets it applied (its first window is still open: since start).
    assert "Add-on: received -> applied p50 " in lat and "(n 2, since start)" in lat
