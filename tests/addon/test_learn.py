"""Learn on the add-on's side (tests/addon/learn_bpy.py) in a real Blender without a
window: KNOBLINK_BACKEND=bpy50 (PyPI bpy 5.0) or blender34 (Debian's Blender 3.4, -b)."""

import os
import subprocess
import sys

from conftest import ROOT, isolated_env

BACKEND = os.environ.get("KNOBLINK_BACKEND", "bpy50")
SCRIPT = str(ROOT / "tests" / "addon" / "learn_bpy.py")


def test_learn_in_blender(tmp_path):
    env = isolated_env(tmp_path)
    env["KNOBLINK_PORT"] = "0"
    if BACKEND == "bpy50":
        cmd = [sys.executable, SCRIPT]
    else:
        cmd = ["blender", "-b", "--factory-startup", "--python-exit-code", "1", "--python", SCRIPT]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=150)
    out = p.stdout + p.stderr
    assert p.returncode == 0 and "learn_bpy: ok" in p.stdout, out[-6000:]
