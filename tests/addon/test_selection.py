"""Selections (docs/protocol.md, "Selections") in real Blender, over a real socket:
context.selected_objects[*] and context.selected_pose_bones[*] fan out to each
selected element, and only to those; every element is checked like a single target.

KNOBLINK_BACKEND picks the Blender, as in test_live.py:
  blender34  Debian's Blender 3.4 with a window under Xvfb (scripts/blender-addon --gui)
  bpy50      PyPI bpy 5.0 in plain python3 (selection_blender.py --run pumps the drain)
selection_blender.py builds the scene: A and B selected, C and the Cube not, an
armature Rig (active, object mode) with bones b1 and b2 selected and b3 not. The
tests run in file order: pose mode, then an empty selection, come last.
"""

import os
import sys

import pytest

from conftest import ROOT, Client, Launched, isolated_env

BACKEND = os.environ.get("KNOBLINK_BACKEND", "bpy50")
GUI = BACKEND == "blender34"
HERE = os.path.dirname(os.path.abspath(__file__))

SEL = "context.selected_objects[*]"
BONES = "context.selected_pose_bones[*]"


def obj(name):
    return f'bpy.data.objects["{name}"]'


def bone(name):
    return f'{obj("Rig")}.pose.bones["{name}"]'


@pytest.fixture(scope="module")
def port_env(tmp_path_factory):
    env = isolated_env(tmp_path_factory.mktemp(f"selection-{BACKEND}"))
    if GUI:
        cmd = [str(ROOT / "scripts" / "blender-addon"), "--gui", "--port", "0",
               "--python", os.path.join(HERE, "selection_blender.py")]
    else:
        env["KNOBLINK_PORT"] = "0"
        cmd = [sys.executable, os.path.join(HERE, "selection_blender.py"), "--run"]
    b = Launched(cmd, env)
    try:
        b.check_listening()
        c = Client(b.port, env=env, name="ready")
        c.value("context.scene.frame_current", timeout=90)  # the first drain ran (GUI: the first timer)
        c.close()
        yield b.port, env
        assert "Traceback" not in "\n".join(b.out + b.err), (b.out[-20:], b.err[-20:])
    finally:
        b.stop()


@pytest.fixture
def c(port_env):
    cl = Client(port_env[0], env=port_env[1], name="selection")
    yield cl
    cl.close()


def values(c, paths):
    """The current values of paths, read in one burst (watch all, then unwatch all): each
    round trip waits for a drain, which takes a redraw in the GUI."""
    first = c.next_id + 1
    c.send(*[{"op": "watch", "path": p, "id": first + i} for i, p in enumerate(paths)])
    for i, p in enumerate(paths):
        r = c.reply(first + i)
        assert r.get("ok") is True, f"watch {p} -> {r}"
    got = [c.wait(lambda m, p=p: m.get("ev") == "value" and m.get("path") == p, what=f"value of {p}")["value"]
           for p in paths]
    c.next_id += 2 * len(paths)
    c.send(*[{"op": "unwatch", "path": p, "id": first + len(paths) + i} for i, p in enumerate(paths)])
    for i in range(len(paths)):
        c.reply(first + len(paths) + i)
    return got


def x_of(c, *names):
    return [pytest.approx(v) for v in values(c, [f"{obj(n)}.location[0]" for n in names])]


def test_add_moves_each_selected_object_and_no_other(c):
    before = values(c, [f"{obj(n)}.location[0]" for n in ("A", "B", "C", "Cube")])
    assert before == [1.0, 2.0, 3.0, 0.0]
    # One burst: the four adds coalesce into one (the path text is the key), applied to each.
    c.send(*[{"op": "add", "path": f"{SEL}.location[0]", "value": 0.25, "id": i} for i in range(4)])
    assert all(c.reply(i)["ok"] for i in range(4))
    assert values(c, [f"{obj(n)}.location[0]" for n in ("A", "B", "C", "Cube")]) == \
        [pytest.approx(2.0), pytest.approx(3.0), 3.0, 0.0]


def test_set_sets_each(c):
    c.ok({"op": "set", "path": f"{SEL}.location[1]", "value": -1.5})
    assert values(c, [f"{obj(n)}.location[1]" for n in ("A", "B", "C", "Cube")]) == [-1.5, -1.5, 0.0, 0.0]
    c.ok({"op": "set", "path": f"{SEL}.scale", "value": [1, 2, 3]})  # a whole vector, to each
    assert values(c, [f"{obj(n)}.scale" for n in ("A", "B", "C")]) == [[1, 2, 3], [1, 2, 3], [1, 1, 1]]


def test_toggle_flips_each_on_its_own(c):
    c.ok({"op": "set", "path": f"{obj('B')}.hide_render", "value": 1})
    c.ok({"op": "toggle", "path": f"{SEL}.hide_render"})
    assert values(c, [f"{obj(n)}.hide_render" for n in ("A", "B", "C")]) == [True, False, False]
    c.ok({"op": "toggle", "path": f"{SEL}.hide_render"})
    assert values(c, [f"{obj(n)}.hide_render" for n in ("A", "B", "C")]) == [False, True, False]


def test_keyframe_keys_each(c):
    c.ok({"op": "set", "path": "context.scene.frame_current", "value": 4})
    c.ok({"op": "keyframe", "path": f"{SEL}.location"})
    actions = values(c, [f"{obj(n)}.animation_data.action" for n in ("A", "B")])
    assert actions[0] and actions[1] and actions[0] != actions[1], actions  # one action each
    r = c.error({"op": "watch", "path": f"{obj('C')}.animation_data.action"}, "not_found")
    assert "'animation_data' is not a struct" in r["message"], r  # C has none: nothing was keyed there
    blender = c.hello["blender"]
    keys = []
    for name in actions:
        fcurves = (f'bpy.data.actions["{name}"].fcurves' if blender.startswith("3.") else
                   f'bpy.data.actions["{name}"].layers[0].strips[0].channelbags[0].fcurves')
        keys.append(f"{fcurves}[0].keyframe_points[0].co")
    assert values(c, keys) == [[4.0, pytest.approx(2.0)], [4.0, pytest.approx(3.0)]]  # A's x, B's x


def test_each_element_is_checked_like_a_single_target(c):
    # B's "mixed" is a string: the whole command is refused, naming B, and A keeps its value.
    r = c.error({"op": "set", "path": f'{SEL}["mixed"]', "value": 2}, "not_allowed")
    assert r["message"].startswith("strings can carry code, names and file paths: not writable over the wire")
    assert "(element bpy.data.objects['B'])" in r["message"], r
    assert values(c, [f'{obj("A")}["mixed"]']) == [0.5]
    r = c.error({"op": "set", "path": f"{SEL}.name", "value": 1}, "not_allowed")
    assert "Object.name is a string" in r["message"], r
    c.error({"op": "toggle", "path": f"{SEL}.location[0]"}, "wrong_type")
    assert values(c, [f'{obj(n)}.name' for n in ("A", "B")]) == ["A", "B"]


def test_elements_the_path_does_not_reach_are_skipped(c):
    c.ok({"op": "set", "path": f'{SEL}["knob"]', "value": 7})  # only A has "knob"
    assert values(c, [f'{obj("A")}["knob"]']) == [7.0]
    c.error({"op": "watch", "path": f'{obj("B")}["knob"]'}, "not_found")  # B got none: it was skipped
    r = c.error({"op": "add", "path": f'{SEL}["nothing"]', "value": 1}, "not_found")
    assert "on none of the 2 elements of context.selected_objects" in r["message"], r


def test_a_selection_path_is_not_watched(c):
    r = c.error({"op": "watch", "path": f"{SEL}.location[0]"}, "bad_path")
    assert "fans out over the selection" in r["message"]


def test_pose_bones_fan_out_in_pose_mode(c):
    c.error({"op": "add", "path": f"{BONES}.location[0]", "value": 1}, "not_found")  # object mode: none
    c.ok({"op": "call", "operator": "object.mode_set", "args": {"mode": "POSE"}})
    assert values(c, [f"{obj('Rig')}.mode"]) == ["POSE"]
    c.ok({"op": "add", "path": f"{BONES}.location[0]", "value": 0.5})
    c.ok({"op": "add", "path": f"{BONES}.location[0]", "value": 0.25})
    assert values(c, [f"{bone(n)}.location[0]" for n in ("b1", "b2", "b3")]) == [0.75, 0.75, 0.0]
    c.ok({"op": "set", "path": f"{BONES}.rotation_quaternion[0]", "value": 0.5})
    assert values(c, [f"{bone(n)}.rotation_quaternion[0]" for n in ("b1", "b2", "b3")]) == [0.5, 0.5, 1.0]
    c.ok({"op": "keyframe", "path": f"{BONES}.location"})
    assert values(c, [f"{obj('Rig')}.animation_data.action"])[0] is not None
    c.ok({"op": "call", "operator": "object.mode_set", "args": {"mode": "OBJECT"}})
    r = c.error({"op": "set", "path": f"{BONES}.location[0]", "value": 1}, "not_found")
    assert "context.selected_pose_bones is None here" in r["message"] or "is empty" in r["message"], r


def test_an_empty_selection_is_not_found(c):
    c.ok({"op": "call", "operator": "object.select_all", "args": {"action": "DESELECT"}})
    before = x_of(c, "A", "B", "C")
    for cmd in ({"op": "add", "value": 1, "path": f"{SEL}.location[0]"},
                {"op": "set", "value": 1, "path": f"{SEL}.location[0]"},
                {"op": "toggle", "path": f"{SEL}.hide_render"},
                {"op": "keyframe", "path": f"{SEL}.location"}):
        r = c.error(cmd, "not_found")
        assert r["message"] == f"{cmd['path']}: context.selected_objects is empty (nothing is selected)", r
    assert x_of(c, "A", "B", "C") == before
