"""Builds the rigged file test_safety.py attacks (run inside Blender:
`python3 safety_rig.py -- DIR` with PyPI bpy, `blender -b --factory-startup
--python safety_rig.py -- DIR` with Blender 3.4). Writes DIR/lib.blend and
DIR/rig.blend:
- Cube: a scripted (Python) driver on location[2], `frame + len('ab')`
  (Python, not a simple expression), a custom property "knob", a Bevel
  modifier and shape keys "Basis", "Smile";
- text blocks "rig_ui.py" (Register: use_module) and "notes.txt";
- material "Rig" on the Cube with a Script node (OSL, internal, the text "notes.txt");
- image "tex" with a file path, render.filepath set;
- "LibThing" linked from lib.blend (a library).
"""

import os
import sys

import bpy

out = sys.argv[sys.argv.index("--") + 1]
lib_path = os.path.join(out, "lib.blend")

thing = bpy.data.objects.new("LibThing", None)
bpy.data.libraries.write(lib_path, {thing})
bpy.data.objects.remove(thing)

cube = bpy.data.objects["Cube"]
cube["knob"] = 0.5
cube.modifiers.new("Bevel", "BEVEL")
cube.shape_key_add(name="Basis")
cube.shape_key_add(name="Smile")
fc = cube.driver_add("location", 2)
fc.driver.type = "SCRIPTED"
fc.driver.expression = "frame + len('ab')"

ui = bpy.data.texts.new("rig_ui.py")
ui.write("import bpy\nbpy.app.driver_namespace['knoblink_rig_ui'] = 1\n")
ui.use_module = True
notes = bpy.data.texts.new("notes.txt")
notes.write("shader knob(output float Out = 1.0) { Out = 2.0; }\n")

mat = bpy.data.materials.new("Rig")
mat.use_nodes = True
node = mat.node_tree.nodes.new("ShaderNodeScript")
node.name = "Script"
node.mode = "INTERNAL"
node.script = notes
node.filepath = "//knob.osl"
cube.data.materials.append(mat)

img = bpy.data.images.new("tex", 4, 4)
img.filepath_raw = "//tex.png"
img.use_fake_user = True  # saved although nothing uses it
bpy.context.scene.render.filepath = "//render/"

with bpy.data.libraries.load(lib_path, link=True) as (_src, dst):
    dst.objects = ["LibThing"]
bpy.context.scene.collection.objects.link(dst.objects[0])  # used, so the library is saved

bpy.ops.wm.save_as_mainfile(filepath=os.path.join(out, "rig.blend"))
print("knoblink-rig: wrote", os.path.join(out, "rig.blend"), flush=True)
