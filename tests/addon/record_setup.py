"""Extra script for the record GUI test: the 3D view becomes an outliner, so that a frame
costs a cheap 2D redraw instead of a software-GL 3D one and playback in real time
reaches most frames even on a loaded machine (what is recorded does not depend on it)."""
import bpy

for area in bpy.context.window_manager.windows[0].screen.areas:
    if area.type == "VIEW_3D":
        area.type = "OUTLINER"
print("knoblink test: the 3D view is an outliner now", flush=True)
