"""Inside Blender (GUI) for `bench/wake/run --passes`: how often the main loop passes
(a bpy.app.timers callback at interval 0 counts them) for 2 s each with: nothing;
a bare window-manager event timer of interval 0 on a window (what addon/knoblink/wake.py
holds); the same timer with no window; a modal operator holding one (the usual recipe).
Waits until the start-up redraws are over, prints one "knoblink-wake-passes {...}" line
per case and quits."""

import json
import time

import bpy

wm = bpy.context.window_manager
clock = time.perf_counter
CASES = ["sleeping loop (no timer)", "event timer on a window", "event timer, window=None",
         "modal operator + event timer", "sleeping loop again"]
state = {"case": -1, "t0": 0.0, "last": 0.0, "gaps": [], "timer": None, "calm": 0}


class BENCH_OT_modal_wake(bpy.types.Operator):
    """Holds an event timer of interval 0 until told to stop"""
    bl_idname = "bench.modal_wake"
    bl_label = "Modal wake"
    bl_options = {"INTERNAL"}

    def invoke(self, context, _event):
        self.timer = context.window_manager.event_timer_add(0.0, window=context.window)
        context.window_manager.modal_handler_add(self)
        state["modal"] = True
        return {"RUNNING_MODAL"}

    def modal(self, context, _event):
        if not state.get("modal"):
            context.window_manager.event_timer_remove(self.timer)
            return {"FINISHED"}
        return {"PASS_THROUGH"}


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * (len(xs) - 1)))] * 1000.0


def next_case():
    if state["timer"] is not None:
        wm.event_timer_remove(state["timer"])
        state["timer"] = None
    state["modal"] = False
    state["case"] += 1
    k = state["case"]
    if k == 1:
        state["timer"] = wm.event_timer_add(0.0, window=wm.windows[0])
    elif k == 2:
        state["timer"] = wm.event_timer_add(0.0, window=None)
    elif k == 3:
        win = wm.windows[0]
        with bpy.context.temp_override(window=win, screen=win.screen, area=win.screen.areas[0]):
            bpy.ops.bench.modal_wake("INVOKE_DEFAULT")
    state.update(t0=clock(), gaps=[])


def tick():
    now = clock()
    gap, state["last"] = now - state["last"], now
    if state["case"] < 0:  # start-up redraws: wait for 400 calm passes
        state["calm"] = state["calm"] + 1 if gap < 0.02 else 0
        if state["calm"] >= 400:
            next_case()
        return 0.0
    state["gaps"].append(gap)
    if now - state["t0"] >= 2.0:
        g = state["gaps"][1:]
        print("knoblink-wake-passes " + json.dumps({
            "case": CASES[state["case"]], "passes_per_s": round(len(g) / (now - state["t0"])),
            "gap_p50_ms": round(pct(g, 0.5), 3), "gap_p99_ms": round(pct(g, 0.99), 3)}), flush=True)
        if state["case"] == len(CASES) - 1:
            bpy.ops.wm.quit_blender()
            return None
        next_case()
    return 0.0


bpy.utils.register_class(BENCH_OT_modal_wake)
bpy.app.timers.register(tick, first_interval=0.0)
