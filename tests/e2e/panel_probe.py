"""Extra script for the e2e status test (run in Blender's GUI by scripts/blender-addon
--gui --python): every 0.1 s writes the add-on's panel state
(link.running().panel.snapshot(), what the KnobLink panel draws) as JSON to
$KNOBLINK_PANEL_STATE (a temp name, then renamed), with the number of times the
panel's sections were really drawn. Opens the 3D view's sidebar so they are."""

import json
import os
import sys

import bpy

OUT = os.environ["KNOBLINK_PANEL_STATE"]
drawn = {"mappings": 0}


def count(_self, _context):
    drawn["mappings"] += 1


bpy.context.preferences.view.show_splash = False
for area in bpy.context.window_manager.windows[0].screen.areas:
    if area.type == "VIEW_3D":
        area.spaces.active.show_region_ui = True
bpy.types.KNOBLINK_PT_mappings.append(count)


def dump():
    link = sys.modules["knoblink"].link.running()
    if link is not None:
        snap = link.panel.snapshot()
        snap["drawn"] = drawn["mappings"]
        with open(OUT + ".part", "w") as f:
            json.dump(snap, f)
        os.replace(OUT + ".part", OUT)
    return 0.1


bpy.app.timers.register(dump, first_interval=0.1, persistent=True)
