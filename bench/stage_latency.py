#!/usr/bin/env python3
"""Where the time goes on the emulated chain (docs/performance.md, "Stage latencies"):
the knob-box firmware in knoblink-sim -> pty -> `knoblink run -v` with
examples/knobbox.yaml -> Blender 3.4 with the add-on (GUI under Xvfb, or --headless
with the drain pumped every 5 ms). Knobs 1 and 2 are swept at 50 Hz for --duration
seconds; then SIGUSR1, and the bridge's `latency:` lines (every 5 s with -v, and
SIGUSR1's) are printed: device read -> sent (bridge) and received -> applied
(what the add-on reported).

  bench/stage_latency.py [--duration 30] [--headless] [--build build]
"""

import argparse
import json
import math
import os
import pathlib
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]


def lines_of(proc, sink):
    for line in proc.stdout:
        sink.append(line.decode(errors="replace").rstrip("\n"))


def wait_for(sink, pattern, timeout, what):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for line in sink:
            m = re.search(pattern, line)
            if m:
                return m
        time.sleep(0.05)
    sys.exit(f"stage_latency: no {what} within {timeout} s; last lines: {sink[-10:]}")


def first_drain(run, port, timeout=120):
    """Waits until the add-on has applied two writes 2 s apart: its first drain has run, and
    the first redraw after a change (software GL compiles its shaders then, seconds on a
    busy machine) is over, so the sweep measures the steady state."""
    token = json.loads((run / "knoblink" / f"blender-{port}.json").read_text())["token"]
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    f = s.makefile("rwb")
    f.write(json.dumps({"hello": 1, "client": "stage-latency", "token": token}).encode() + b"\n")
    for i in (1, 2):
        f.write(json.dumps({"op": "set", "path": 'bpy.data.objects["Cube"].location[1]', "value": i * 0.1,
                            "id": i}).encode() + b"\n")
        f.flush()
        while json.loads(f.readline()).get("id") != i:
            pass
        time.sleep(2)
    s.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=float, default=30)
    ap.add_argument("--headless", action="store_true")
    ap.add_argument("--build", default=str(ROOT / "build"))
    opt = ap.parse_args()
    build = pathlib.Path(opt.build)
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="knoblink-stages-"))
    env = dict(os.environ, XDG_RUNTIME_DIR=str(tmp))
    procs = []
    try:
        cmd = [str(ROOT / "scripts" / "blender-addon"), "--port", "0", "--no-stdin"]
        if not opt.headless:
            cmd.append("--gui")
        blender_out = []
        b = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, start_new_session=True)
        procs.append(b)
        threading.Thread(target=lines_of, args=(b, blender_out), daemon=True).start()
        port = int(wait_for(blender_out, r"knoblink-addon listening on 127\.0\.0\.1:(\d+)", 120, "Blender").group(1))
        first_drain(tmp, port)  # a GUI's first timer can take a while: sweep only once it drains

        link = tmp / "knobbox"
        sim_out = []
        sim = subprocess.Popen([str(build / "firmware" / "knoblink-sim"), "--link", str(link),
                                str(build / "firmware" / "knobbox" / "knobbox.elf")],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               start_new_session=True)
        procs.append(sim)
        threading.Thread(target=lines_of, args=(sim, sim_out), daemon=True).start()
        wait_for(sim_out, r"^pty ", 30, "emulator")

        cfg = tmp / "knobbox.yaml"
        cfg.write_text((ROOT / "examples" / "knobbox.yaml").read_text().replace("port: auto", f"port: {link}"))
        log = tmp / "bridge.log"
        bridge = subprocess.Popen([str(build / "bridge" / "knoblink"), "run", "-v", "--config", str(cfg)],
                                  env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True)
        procs.append(bridge)
        end = time.monotonic() + 120
        while "blender: connected" not in log.read_text() or "opened" not in log.read_text():
            if time.monotonic() > end:
                sys.exit("stage_latency: the bridge did not connect; its log:\n" + log.read_text()[-3000:])
            time.sleep(0.1)

        t0 = time.monotonic()
        step = 0
        while time.monotonic() - t0 < opt.duration:
            t = step * 0.02
            for knob, f in ((1, 0.8), (2, 1.3)):
                v = round(511.5 + 511.5 * math.sin(t * f + knob))
                sim.stdin.write(f"knob {knob} {v}\n".encode())
            sim.stdin.flush()
            step += 1
            time.sleep(max(0.0, t0 + step * 0.02 - time.monotonic()))
        time.sleep(5.5)  # the last windows close (5 s on both sides)
        bridge.send_signal(signal.SIGUSR1)
        time.sleep(0.5)
        text = log.read_text()
        mode = "headless (drain pumped every 5 ms)" if opt.headless else "GUI under Xvfb (bpy.app.timers)"
        print(f"stage_latency: {opt.duration:g} s of knob sweeps at 50 Hz, Blender 3.4 {mode}")
        for line in text.splitlines():
            if "latency:" in line or "counters:" in line:
                print(line)
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)


main()
