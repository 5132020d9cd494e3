"""Extra script for the live GUI tests: lets clients quit Blender (wm.quit_blender) and press
the panel's Record button (knoblink.record_toggle)."""
import bpy

prefs = bpy.context.preferences.addons["knoblink"].preferences
prefs.allowed_operators += " wm.quit_blender knoblink.record_toggle"
print("knoblink test: allowed operators:", prefs.allowed_operators, flush=True)

# Show the 3D view's sidebar so the panel's region is drawn too.
for area in bpy.context.window_manager.windows[0].screen.areas:
    if area.type == "VIEW_3D":
        area.spaces.active.show_region_ui = True
