"""Nothing from the wire runs code, nobody else connects (docs/security.md),
in real Blender with a rigged file and Auto Run Python Scripts on.

KNOBLINK_BACKEND picks the Blender, as in test_live.py:
  blender34  Debian's Blender 3.4 with a window under Xvfb (scripts/blender-addon --gui)
  bpy50      PyPI bpy 5.0 in plain python3 (safety_blender.py --run pumps the drain)
safety_rig.py builds the file in that Blender (a Python driver, text blocks,
one a registered module, a Script node, an image and a render path, a linked
library); safety_blender.py turns Auto Run on and opens it. Every write class
is attacked over a real socket: each answers not_allowed naming its rule, the
attacked values read back unchanged, no marker file appears across frame
changes that evaluate the (Python) driver; ordinary control still works.
"""

import json
import os
import pathlib
import subprocess
import sys
import time

import pytest

from conftest import ROOT, Client, Launched, discovered, discovery_file, isolated_env

BACKEND = os.environ.get("KNOBLINK_BACKEND", "bpy50")
GUI = BACKEND == "blender34"
HERE = pathlib.Path(__file__).resolve().parent

CUBE = 'bpy.data.objects["Cube"]'
DRIVER = f"{CUBE}.animation_data.drivers[0]"
UI_TEXT = 'bpy.data.texts["rig_ui.py"]'
KMI = 'context.window_manager.keyconfigs.user.keymaps["Window"].keymap_items[0]'
SCRIPT = 'bpy.data.materials["Rig"].node_tree.nodes["Script"]'
FRAME = "context.scene.frame_current"


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    """Blender with the add-on on the rigged file: (port, env, paths)."""
    tmp = tmp_path_factory.mktemp(f"safety-{BACKEND}")
    env = isolated_env(tmp)
    files = tmp / "files"
    files.mkdir()
    build = ([sys.executable, str(HERE / "safety_rig.py"), "--", str(files)] if not GUI else
             ["blender", "-b", "--factory-startup", "--python-exit-code", "1",
              "--python", str(HERE / "safety_rig.py"), "--", str(files)])
    subprocess.run(build, env=env, check=True, capture_output=True, timeout=120)
    env["KNOBLINK_TEST_RIG"] = str(files / "rig.blend")
    env["KNOBLINK_TEST_SAVE_AS"] = str(files / "saved as.blend")
    env["KNOBLINK_TEST_MARKER"] = str(tmp / "marker")
    if GUI:
        cmd = [str(ROOT / "scripts" / "blender-addon"), "--gui", "--port", "0",
               "--python", str(HERE / "safety_blender.py")]
    else:
        env["KNOBLINK_PORT"] = "0"
        cmd = [sys.executable, str(HERE / "safety_blender.py"), "--run"]
    b = Launched(cmd, env)
    info = {"port": b.port, "env": env, "files": files, "marker": pathlib.Path(env["KNOBLINK_TEST_MARKER"]),
            "proc": b.proc, "out": b.out, "err": b.err}
    try:
        b.check_listening()
        c = Client(b.port, env=env, name="ready")
        # The rig is open (GUI: the --python script opened it after the add-on started; the
        # first timer can take long on a loaded machine).
        end = time.monotonic() + 90
        while c.value("context.scene.render.filepath", timeout=90) != "//render/" and time.monotonic() < end:
            time.sleep(0.2)
        c.close()
        yield info
    finally:
        b.stop()


@pytest.fixture
def c(rig):
    cl = Client(rig["port"], env=rig["env"], name="attacker")
    yield cl
    cl.close()


def _attack(marker):
    """(request, rule's message start): every write class of docs/security.md."""
    evil = f"__import__('os').system('touch {marker}') or 1"
    drivers = "drivers run Python expressions"
    text = "text blocks are Python scripts"
    keymaps = "key maps bind keys to any operator"
    nodes = "script, IES and file output nodes"
    paths = "file paths name files Blender reads or writes"
    return [
        ({"op": "set", "path": f"{DRIVER}.driver.expression", "value": evil}, drivers),
        ({"op": "set", "path": f"{DRIVER}.driver.type", "value": "AVERAGE"}, drivers),
        ({"op": "toggle", "path": f"{DRIVER}.driver.use_self"}, drivers),
        ({"op": "toggle", "path": f"{DRIVER}.mute"}, drivers),
        ({"op": "set", "path": f"{DRIVER}.driver.variables[0].targets[0].transform_type", "value": "LOC_Y"}, drivers),
        ({"op": "keyframe", "path": f"{DRIVER}.driver.use_self"}, drivers),
        ({"op": "set", "path": f"{UI_TEXT}.lines[0].body", "value": f"open({str(marker)!r}, 'w')"}, text),
        ({"op": "set", "path": f"{UI_TEXT}.use_module", "value": 0}, text),
        ({"op": "toggle", "path": f"{UI_TEXT}.use_module"}, text),
        ({"op": "set", "path": f"{UI_TEXT}.current_line_index", "value": 0}, text),
        ({"op": "set", "path": 'bpy.data.texts["no such text"].use_module', "value": 1}, text),
        ({"op": "set", "path": f"{UI_TEXT}[\"x\"]", "value": 1}, text),
        ({"op": "set", "path": f"{KMI}.idname", "value": "wm.quit_blender"}, keymaps),
        ({"op": "toggle", "path": f"{KMI}.active"}, keymaps),
        ({"op": "set", "path": 'bpy.data.window_managers["WinMan"].keyconfigs.active.keymaps["Window"].'
                               'keymap_items[0].type', "value": "A"}, keymaps),
        ({"op": "set", "path": 'bpy.data.libraries["lib.blend"].filepath', "value": "/tmp/evil.blend"},
         "libraries load other .blend files"),
        ({"op": "set", "path": f"{SCRIPT}.mode", "value": "EXTERNAL"}, nodes),
        ({"op": "set", "path": f"{SCRIPT}.filepath", "value": "/tmp/evil.osl"}, nodes),
        ({"op": "toggle", "path": f"{SCRIPT}.use_auto_update"}, nodes),
        ({"op": "set", "path": "context.scene.render.filepath", "value": "/tmp/evil/"}, paths),
        ({"op": "set", "path": 'bpy.data.scenes["Scene"].render.filepath', "value": "/tmp/evil/"}, paths),
        ({"op": "set", "path": 'bpy.data.images["tex"].filepath', "value": "/tmp/evil.png"}, paths),
        ({"op": "set", "path": 'bpy.data.images["tex"].filepath_raw', "value": "/tmp/evil.png"}, paths),
        ({"op": "set", "path": f"{CUBE}.name", "value": "Evil"}, "strings can carry code"),
        ({"op": "set", "path": "context.scene.render.stamp_note_text", "value": "x"}, "strings can carry code"),
        ({"op": "call", "operator": "text.run_script"}, text),
        ({"op": "call", "operator": "wm.open_mainfile", "args": {"filepath": "/tmp/evil.blend"}}, paths),
        ({"op": "call", "operator": "wm.open_mainfile", "args": {"load_ui": False, "filepath": "/x.blend"}},
         paths),
    ]


# What the attacks aim at, read back (watch) before and after.
SNAPSHOT = [
    f"{DRIVER}.driver.expression", f"{DRIVER}.driver.type", f"{DRIVER}.driver.use_self", f"{DRIVER}.mute",
    f"{UI_TEXT}.lines[0].body", f"{UI_TEXT}.use_module", f"{KMI}.idname", f"{KMI}.active",
    'bpy.data.libraries["lib.blend"].filepath', f"{SCRIPT}.mode", f"{SCRIPT}.filepath",
    f"{SCRIPT}.use_auto_update", "context.scene.render.filepath", 'bpy.data.images["tex"].filepath',
    'bpy.data.images["tex"].filepath_raw', f"{CUBE}.name", "context.scene.render.stamp_note_text",
]


def _read(c, path):
    """path's value, or "not found" (background Blender has no key maps)."""
    r = c.request({"op": "watch", "path": path})
    if r.get("error") == "not_found":
        return "not found"
    assert r.get("ok") is True, (path, r)
    value = c.wait(lambda m: m.get("ev") == "value" and m.get("path") == path)["value"]
    c.ok({"op": "unwatch", "path": path})
    return value


def _snapshot(c):
    return {path: _read(c, path) for path in SNAPSHOT}


def test_every_write_class_is_refused_and_nothing_changes(rig, c):
    before = _snapshot(c)
    assert before[f"{DRIVER}.driver.expression"] == "frame + len('ab')"
    assert before[f"{UI_TEXT}.use_module"] is True and before[f"{SCRIPT}.mode"] == "INTERNAL"
    assert before['bpy.data.libraries["lib.blend"].filepath'] == "//lib.blend"
    refused = []
    for req, rule in _attack(rig["marker"]):
        r = c.request(req)
        refused.append((req.get("path") or req.get("operator"), r.get("error"), r.get("message", "")))
        assert r.get("error") == "not_allowed", (req, r)
        assert r["message"].startswith(rule) and "not" in r["message"], (req, r)
    assert _snapshot(c) == before
    print("\n".join(f"{where}: {code}: {message}" for where, code, message in refused))


def test_unknown_operator_arguments_are_refused_before_the_call(c):
    r = c.error({"op": "call", "operator": "wm.open_mainfile", "args": {"bogus": 1}}, "bad_value")
    assert "has no argument 'bogus'" in r["message"] and "filepath" in r["message"], r
    c.error({"op": "call", "operator": "screen.frame_jump", "args": {"rna_type": 1}}, "bad_value")


def test_preferences_are_out_of_reach(c):
    """No allowed root leads to the preferences; the root itself is refused by the grammar."""
    for path in ("context.preferences.filepaths.use_scripts_auto_execute",
                 'context.preferences.addons["knoblink"].preferences.allowed_operators'):
        r = c.error({"op": "set", "path": path, "value": 1}, "bad_path")
        assert "context root 'preferences'" in r["message"] and "not allowed" in r["message"], r


def test_no_code_runs_across_frame_changes(rig, c):
    """The driver is a Python one and runs here (Auto Run is on): it follows the
    frame. After the refused attacks, stepping frames never creates the marker."""
    for req, _rule in _attack(rig["marker"]):
        c.send({**req, "id": "again"})
    c.ok({"op": "set", "path": FRAME, "value": 10})
    for _ in range(5):
        c.ok({"op": "add", "path": FRAME, "value": 1})
    assert c.value(FRAME) == 15
    z = f"{CUBE}.location[2]"
    end = time.monotonic() + 10
    while c.value(z) != 17.0 and time.monotonic() < end:  # the GUI evaluates after its event loop
        time.sleep(0.1)
    assert c.value(z) == 17.0  # frame + len('ab'): Python evaluated this driver
    assert c.value(f"{DRIVER}.driver.expression") == "frame + len('ab')"
    time.sleep(0.5)
    assert not rig["marker"].exists()


def test_ordinary_control_still_works(c):
    c.ok({"op": "set", "path": f"{CUBE}.location[0]", "value": 1.5})
    assert c.value(f"{CUBE}.location[0]") == 1.5
    c.ok({"op": "set", "path": FRAME, "value": 20})
    c.ok({"op": "add", "path": FRAME, "value": 1})
    assert c.value(FRAME) == 21
    before = c.value(f"{CUBE}.hide_render")
    c.ok({"op": "toggle", "path": f"{CUBE}.hide_render"})
    assert c.value(f"{CUBE}.hide_render") is (not before)
    c.ok({"op": "toggle", "path": f"{CUBE}.hide_render"})
    engine = c.value("context.scene.render.engine")
    c.ok({"op": "set", "path": "context.scene.render.engine", "value": "BLENDER_WORKBENCH"})
    assert c.value("context.scene.render.engine") == "BLENDER_WORKBENCH"
    c.ok({"op": "set", "path": "context.scene.render.engine", "value": engine})
    c.ok({"op": "keyframe", "path": f"{CUBE}.location"})
    assert c.value(f"{CUBE}.animation_data.action.name") is not None
    c.ok({"op": "set", "path": f'{CUBE}["knob"]', "value": 0.75})
    c.ok({"op": "add", "path": f'{CUBE}["knob"]', "value": 0.25})
    assert c.value(f'{CUBE}["knob"]') == 1.0
    c.ok({"op": "set", "path": f'{CUBE}.modifiers["Bevel"].width', "value": 0.25})
    assert c.value(f'{CUBE}.modifiers["Bevel"].width') == pytest.approx(0.25)
    rough = 'bpy.data.materials["Rig"].node_tree.nodes["Principled BSDF"].inputs["Roughness"].default_value'
    c.ok({"op": "set", "path": rough, "value": 0.125})
    assert c.value(rough) == 0.125
    smile = f'{CUBE}.data.shape_keys.key_blocks["Smile"].value'
    c.ok({"op": "set", "path": smile, "value": 0.5})
    assert c.value(smile) == 0.5
    c.ok({"op": "call", "operator": "screen.frame_jump", "args": {"end": True}})
    assert c.value(FRAME) == c.value("context.scene.frame_end")
    # Reading strings is fine: a watch only reads.
    assert c.value(f"{UI_TEXT}.lines[0].body") == "import bpy"


def test_discovery_file_names_the_open_file_and_follows_save_as(rig, c):
    port, env = rig["port"], rig["env"]
    path = discovery_file(port, env)
    assert oct(path.stat().st_mode & 0o777) == "0o600" and oct(path.parent.stat().st_mode & 0o777) == "0o700"
    assert discovered(port, env)["file"] == str(rig["files"] / "rig.blend")
    c.ok({"op": "set", "path": FRAME, "value": 777})  # the test hook saves as "saved as.blend"
    target = str(rig["files"] / "saved as.blend")
    end = time.monotonic() + 30
    while discovered(port, env)["file"] != target and time.monotonic() < end:
        time.sleep(0.1)
    assert discovered(port, env)["file"] == target, rig["out"][-10:]
    assert pathlib.Path(target).is_file()
    assert json.loads(path.read_text())["port"] == port


def test_token_required_and_file_removed_on_stop(rig):
    port, env = rig["port"], rig["env"]
    for token in (None, "wrong"):
        cl = Client(port, hello=False, name=f"token {token}")
        cl.send({"hello": 1, "client": "knoblink/test", **({"token": token} if token else {})})
        assert cl.wait(lambda m: "error" in m)["error"] == "bad_token"
        assert cl.wait_closed()
    proc = rig["proc"]
    proc.stdin.close()
    assert proc.wait(20) == 0, rig["err"][-20:]
    assert not discovery_file(port, env).exists()
    assert not rig["marker"].exists()
    assert "Traceback" not in "\n".join(rig["err"] + rig["out"]), rig["err"][-30:]
