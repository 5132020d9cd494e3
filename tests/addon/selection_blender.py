"""In-Blender setup for test_selection.py (and the bridge's e2e selection case), then
(with --run, PyPI bpy) the add-on runner. Blender 3.4: `scripts/blender-addon [--gui]
--python selection_blender.py` (the add-on is enabled first). PyPI bpy 5.0:
`python3 selection_blender.py --run`.

The scene: the startup Cube, empties A (x=1), B (x=2) and C (x=3), and an armature
Rig with bones b1, b2, b3. A and B are selected, C and the Cube are not; Rig is the
active object (not selected, in object mode) with b1 and b2 selected, b3 not.
Custom properties: A["knob"] = 0.5 (B has none), A["mixed"] = 0.5 and B["mixed"] a
string. The allow-list also names object.mode_set and object.select_all, so the
test can enter pose mode and empty the selection over the wire.
"""

import os
import sys

import bpy

EXTRA_OPERATORS = " object.mode_set object.select_all wm.quit_blender"


def say(msg):
    print(f"knoblink-selection: {msg}", flush=True)


def select_bone(rig, name, on):
    """Bone selection: Bone.select up to 4.x, PoseBone.select from 5.0."""
    pbone = rig.pose.bones[name]
    target = pbone if hasattr(pbone, "select") else rig.data.bones[name]
    target.select = on


def build():
    scene = bpy.context.scene
    made = {}
    for name, x in (("A", 1.0), ("B", 2.0), ("C", 3.0)):
        ob = bpy.data.objects.new(name, None)
        ob.location = (x, 0.0, 0.0)
        scene.collection.objects.link(ob)
        made[name] = ob
    made["A"]["knob"] = 0.5
    made["A"]["mixed"] = 0.5
    made["B"]["mixed"] = "a string"
    arm = bpy.data.armatures.new("Rig")
    rig = bpy.data.objects.new("Rig", arm)
    scene.collection.objects.link(rig)
    view_layer = bpy.context.view_layer
    for ob in view_layer.objects:
        ob.select_set(False)
    view_layer.objects.active = rig
    bpy.ops.object.mode_set(mode="EDIT")
    for i, name in enumerate(("b1", "b2", "b3")):
        bone = arm.edit_bones.new(name)
        bone.head, bone.tail = (i, 2.0, 0.0), (i, 2.0, 1.0)
    bpy.ops.object.mode_set(mode="OBJECT")
    for name in ("b1", "b2", "b3"):
        select_bone(rig, name, name != "b3")
    made["A"].select_set(True)
    made["B"].select_set(True)
    say(f"selected {sorted(o.name for o in view_layer.objects if o.select_get())}, active {view_layer.objects.active.name}")


def allow_extra_operators():
    prefs = bpy.context.preferences.addons["knoblink"].preferences
    prefs.allowed_operators += EXTRA_OPERATORS
    say(f"allowed operators: {prefs.allowed_operators}")


def main():
    run = "--run" in sys.argv
    build()
    if run:
        import addon_utils
        if addon_utils.enable("knoblink", default_set=True) is None:
            sys.exit("knoblink-selection: could not enable the add-on")
    allow_extra_operators()
    if run:
        sys.argv = sys.argv[:1]
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "addon"))
        import run_knoblink  # noqa: F401  (pumps the drain until stdin closes)


main()
