"""Inside Blender (GUI) for bench/wake/run: the observer.

A bpy.app.timers callback at interval 0 (every pass of the main loop; it is
registered after the add-on's drain, so within one pass it runs after it)
records time.monotonic() (CLOCK_MONOTONIC, the sender's clock too) whenever
the custom property Cube["kb"] shows a new value. The orchestrator
(wake_bench.py) drives phases over Contract 2 itself: a set of Cube["kb_phase"]
to K arms phase K (its wake_ms comes from the plan file and is set in the
add-on's preferences, as a user would), -K ends it: the samples are written to
$KNOBLINK_BENCH_OUT/phase-K.json. 9999 quits Blender.
"""

import json
import os
import time

import bpy

OUT = os.environ["KNOBLINK_BENCH_OUT"]
PLAN = json.load(open(os.environ["KNOBLINK_BENCH_PLAN"]))

cube = bpy.data.objects["Cube"]
cube["kb"] = 0
cube["kb_phase"] = 0
prefs = bpy.context.preferences.addons["knoblink"].preferences
clock = time.monotonic
state = {"phase": 0, "value": 0, "samples": [], "passes": 0, "last": 0.0, "calm": 0}
# Blender redraws its window for seconds after start (llvmpipe, 1280x720): the bench
# starts once the loop has been at rest (every pass gap < 20 ms) for 400 passes (~2 s).
CALM_PASSES = 400


def say(text):
    print(f"knoblink-wake-bench {text}", flush=True)


def settle():
    now = clock()
    state["calm"] = state["calm"] + 1 if now - state["last"] < 0.02 else 0
    state["last"] = now
    if state["calm"] < CALM_PASSES:
        return 0.0
    bpy.app.timers.register(observe, first_interval=0.0, persistent=True)
    say(f"ready pid={os.getpid()}")
    return None


def observe():
    ob = bpy.data.objects["Cube"]
    v = ob["kb"]
    now = clock()
    if v != state["value"]:
        state["value"] = v
        state["samples"].append((v, now))
    state["passes"] += 1
    if state.get("arming"):
        _arming(now)
    ctl = ob["kb_phase"]
    if ctl != state["phase"]:
        _control(ob, ctl)
    return 0.0


def _control(ob, ctl):
    old, state["phase"] = state["phase"], ctl
    if ctl == 9999:
        bpy.ops.wm.quit_blender()
    elif ctl > 0:  # arm phase ctl
        prefs.wake_ms = PLAN[ctl - 1]["wake_ms"]
        ob["kb"] = 0
        state.update(value=0, samples=[], passes=0, t0=clock(), arming=True, calm=0, last=clock())
    elif ctl < 0 and old == -ctl:  # end phase -ctl
        k = -ctl
        data = {"phase": k, "samples": state["samples"], "passes": state["passes"],
                "seconds": clock() - state["t0"], "wakeups": _wakeups()}
        with open(os.path.join(OUT, f"phase-{k}.json"), "w") as f:
            json.dump(data, f)
        say(f"done {k}")


def _arming(now):
    """A preference change redraws the whole window (hundreds of ms at 1280x720 under
    llvmpipe): the phase is armed once the loop has been at rest for CALM_PASSES
    passes (every gap < 20 ms) and at least 0.5 s since the change."""
    state["calm"] = state["calm"] + 1 if now - state["last"] < 0.02 else 0
    state["last"] = now
    if state["calm"] >= CALM_PASSES and now - state["t0"] >= 0.5:
        state.update(arming=False, samples=[], passes=0, t0=now)
        say(f"armed {state['phase']} wake_ms={prefs.wake_ms}")


def _wakeups():
    import sys
    link = sys.modules["knoblink"].link.running()
    return link.wake.wakeups if link is not None else -1


# Same redraw conditions in every phase: nothing here draws; the custom
# property is not shown in any editor (its panel is collapsed).
bpy.app.timers.register(settle, first_interval=0.0, persistent=True)
