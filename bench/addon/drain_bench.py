"""Drain benchmark in real Blender: run by bench/addon/run (PyPI bpy 5.0 in
python3, or Debian Blender 3.4 with `blender -b --python`).

1. apply rate: rounds of 1,800 sets on distinct paths (200 objects x 9
   channels, nothing to coalesce) are queued, then drained with no budget;
   rate = sets applied / drain time. Then the same backlog drained with the
   default 2 ms budget: each drain's command-loop time.
2. stream: a client sends N sets over 9 paths as fast as it can while the
   drain is pumped like the timer (every 5 ms, at once while queued) with the
   default 2 ms budget: sets/s from first byte to the last ack, and every
   tick's duration against the budget.
"""

import json
import os
import statistics
import subprocess
import sys
import time

import bpy  # first: puts addon_utils on sys.path (PyPI bpy)
import addon_utils  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROUNDS, PATHS, STREAM = 30, 1800, 200_000


def main():
    mod = addon_utils.enable("knoblink", default_set=True)
    link = mod.link.running()
    port = link.server.port
    for i in range(PATHS // 9):
        bpy.context.scene.collection.objects.link(bpy.data.objects.new(f"k{i}", None))

    # 1. apply rate, nothing coalesced
    client = subprocess.Popen([sys.executable_for_client, os.path.join(HERE, "flood.py"), str(port),
                               "distinct", str(ROUNDS), str(PATHS)])
    busy, applied, rounds = 0.0, 0, []
    base = link.queue.received
    for r in range(ROUNDS):
        _wait_received(link, base + (r + 1) * (PATHS + 1))
        t0 = time.perf_counter()
        while len(link.queue):
            applied += link.drain(budget_s=10.0)
        rounds.append(time.perf_counter() - t0)
        busy += rounds[-1]
    client.wait(60)
    apply_rate = applied / busy

    # 1b. the same backlog drained with the default budget: how close each drain stays to it
    client = subprocess.Popen([sys.executable_for_client, os.path.join(HERE, "flood.py"), str(port),
                               "distinct", "10", str(PATHS)])
    backlog_loops = []
    base = link.queue.received
    for r in range(10):
        _wait_received(link, base + (r + 1) * (PATHS + 1))
        while len(link.queue):
            link.drain()
            backlog_loops.append(link.last_apply_ms)
    client.wait(60)

    # 2. streaming with the timer's pacing and the 2 ms budget
    link.queue.received = 0
    client = subprocess.Popen([sys.executable_for_client, os.path.join(HERE, "flood.py"), str(port),
                               "stream", str(STREAM), "9"], stdout=subprocess.PIPE)
    ticks, undo_ms = [], 0.0
    while client.poll() is None:
        link.drain()
        ticks.append((link.last_tick_ms, link.last_apply_ms))
        undo_ms = max(undo_ms, link.last_undo_ms)
        if not len(link.queue):
            time.sleep(0.005)
    stream = json.loads(client.stdout.read())
    busy_ticks = sorted(t for t, _ in ticks if t > 0.05)
    loops = sorted(a for _, a in ticks if a > 0.05)
    budget = link.settings.budget_ms
    result = {
        "blender": bpy.app.version_string,
        "apply_sets_per_s": round(apply_rate),
        "apply_us_per_set": round(1e6 / apply_rate, 2),
        "backlog_drains": len(backlog_loops),
        "backlog_apply_loop_ms_median": round(statistics.median(backlog_loops), 3),
        "backlog_apply_loop_ms_p99": round(sorted(backlog_loops)[int(len(backlog_loops) * 0.99)], 3),
        "backlog_apply_loop_ms_max": round(max(backlog_loops), 3),
        "stream_sets_per_s": round(stream["per_second"]),
        "stream_received": link.queue.received,
        "stream_coalesced": link.queue.merged,
        "ticks": len(ticks),
        "busy_ticks": len(busy_ticks),
        "tick_budget_ms": budget,
        "tick_ms_median": round(statistics.median(busy_ticks), 3) if busy_ticks else 0,
        "tick_ms_p99": round(busy_ticks[int(len(busy_ticks) * 0.99)], 3) if busy_ticks else 0,
        "tick_ms_max": round(busy_ticks[-1], 3) if busy_ticks else 0,
        "ticks_over_budget_plus_1ms": sum(t > budget + 1.0 for t in busy_ticks),
        "apply_loop_ms_p99": round(loops[int(len(loops) * 0.99)], 3) if loops else 0,
        "apply_loop_ms_max": round(loops[-1], 3) if loops else 0,
        "apply_loops_over_budget_plus_1ms": sum(a > budget + 1.0 for a in loops),
        "undo_push_ms_max": round(undo_ms, 3),
    }
    print("knoblink-bench " + json.dumps(result), flush=True)
    addon_utils.disable("knoblink")


def _wait_received(link, total):
    """Until the socket thread has queued total commands (a round is complete)."""
    end = time.monotonic() + 60
    while link.queue.received < total:
        if time.monotonic() > end:
            raise RuntimeError(f"only {link.queue.received} of {total} commands arrived")
        time.sleep(0.001)


sys.executable_for_client = os.environ.get("KNOBLINK_BENCH_PYTHON", "python3")
main()
