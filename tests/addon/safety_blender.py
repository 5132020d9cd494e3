"""In-Blender setup for test_safety.py, then (with --run, PyPI bpy) the
add-on runner. Blender 3.4: `scripts/blender-addon --gui --python safety_blender.py`
(the add-on is enabled first). PyPI bpy 5.0: `python3 safety_blender.py --run`.

- Auto Run Python Scripts on, as a rigged file needs (and as an attacker hopes);
- the allow-list also names wm.open_mainfile and text.run_script, so the test
  can show that arguments and never-callable operators are refused by the
  add-on itself, not only by the default allow-list;
- opens $KNOBLINK_TEST_RIG (load_post: the discovery file names it);
- a test hook that is not the wire's: when the frame becomes 777, the file is
  saved as $KNOBLINK_TEST_SAVE_AS (save_post: the discovery file follows).
"""

import os
import sys

import bpy
from bpy.app.handlers import persistent

SAVE_AS_FRAME = 777
EXTRA_OPERATORS = " wm.open_mainfile text.run_script wm.quit_blender"


def say(msg):
    print(f"knoblink-safety: {msg}", flush=True)


def save_as():
    target = os.environ["KNOBLINK_TEST_SAVE_AS"]
    wm = bpy.context.window_manager
    if wm.windows:
        with bpy.context.temp_override(window=wm.windows[0]):
            bpy.ops.wm.save_as_mainfile(filepath=target)
    else:
        bpy.ops.wm.save_as_mainfile(filepath=target)
    say(f"saved as {bpy.data.filepath}")


@persistent
def save_as_on_frame(scene, *_args):
    if scene.frame_current == SAVE_AS_FRAME and bpy.data.filepath != os.environ["KNOBLINK_TEST_SAVE_AS"]:
        if bpy.app.background:
            save_as()
        else:  # not inside the frame change: from the event loop
            bpy.app.timers.register(lambda: save_as() and None, first_interval=0.0)


def allow_extra_operators():
    prefs = bpy.context.preferences.addons["knoblink"].preferences
    prefs.allowed_operators += EXTRA_OPERATORS
    say(f"allowed operators: {prefs.allowed_operators}")


def main():
    bpy.context.preferences.filepaths.use_scripts_auto_execute = True
    bpy.app.handlers.frame_change_post.append(save_as_on_frame)
    run = "--run" in sys.argv
    if not run:
        allow_extra_operators()
    bpy.ops.wm.open_mainfile(filepath=os.environ["KNOBLINK_TEST_RIG"])
    say(f"opened {bpy.data.filepath}; auto-run {bpy.context.preferences.filepaths.use_scripts_auto_execute}; "
        f"rig_ui ran {bpy.app.driver_namespace.get('knoblink_rig_ui')}")
    if run:
        import addon_utils
        if addon_utils.enable("knoblink", default_set=True) is None:
            sys.exit("knoblink-safety: could not enable the add-on")
        allow_extra_operators()
        sys.argv = sys.argv[:1]
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "addon"))
        import run_knoblink  # noqa: F401  (pumps the drain until stdin closes)


main()
