"""Extra script for the live GUI test: lets clients quit Blender (wm.quit_blender)."""
import bpy

prefs = bpy.context.preferences.addons["knoblink"].preferences
prefs.allowed_operators += " wm.quit_blender"
print("knoblink test: allowed operators:", prefs.allowed_operators, flush=True)
