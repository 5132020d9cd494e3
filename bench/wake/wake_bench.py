"""Latency of a paced stream into the real Blender GUI, wake-up on and off
(bench/wake/run; results in docs/performance.md, "Wake-up").

Blender 3.4 with a window under Xvfb at 1280x720 (scripts/blender-addon --gui
--screen 1280x720) runs the add-on and bench/wake/observer.py. For each phase
of the plan a paced sender writes the values 1..N to the custom property
Cube["kb"], either straight into the add-on (a Contract 2 client with the
token from the discovery file) or through the bridge (build/bridge/knoblink
reading a pty this script feeds with Contract 1 lines). The observer records
when each value became visible; both sides use CLOCK_MONOTONIC.

Per phase: every message's latency (send -> the first pass showing it or a
newer value) p50/p99/max, staleness (passes showing an older value than one
already shown), whether the final value is the last one sent, and the CPU of
Blender and of the bridge (/proc/PID/stat) while it streamed; plus Blender's
CPU over 5 s with no input. Prints one "knoblink-wake-bench {...}" JSON line
per phase and a table.
"""

import argparse
import json
import os
import pathlib
import socket
import subprocess
import sys
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
CUBE = 'bpy.data.objects["Cube"]'
KB, PHASE = f'{CUBE}["kb"]', f'{CUBE}["kb_phase"]'
TICK = os.sysconf("SC_CLK_TCK")
clock = time.monotonic


def options():
    ap = argparse.ArgumentParser(prog="bench/wake/run")
    ap.add_argument("--seconds", type=float, default=3.0, help="length of each stream (default 3)")
    ap.add_argument("--rates", default="100,1000", help="sender rates in Hz (default 100,1000)")
    ap.add_argument("--wake-ms", type=int, default=100, help="the wake-up's idle delay when on")
    ap.add_argument("--routes", default="direct,bridge", help="direct, bridge or both")
    ap.add_argument("--bridge", default=str(ROOT / "build" / "bridge" / "knoblink"))
    ap.add_argument("--out", required=True, help="a scratch folder")
    return ap.parse_args()


def plan(opts):
    phases = []
    for route in opts.routes.split(","):
        for hz in (int(r) for r in opts.rates.split(",")):
            for wake in (opts.wake_ms, 0):
                phases.append({"kind": "stream", "route": route, "hz": hz, "wake_ms": wake,
                               "n": int(hz * opts.seconds)})
    for wake in (opts.wake_ms, 0):
        phases.append({"kind": "idle", "wake_ms": wake, "seconds": 5.0})
    return phases


def cpu_ticks(pid):
    """utime + stime of pid (and its threads) in clock ticks."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


class Blender:
    """The GUI Blender with the add-on and the observer; its stdout lines collected."""

    def __init__(self, out, plan_path):
        env = dict(os.environ, KNOBLINK_BENCH_OUT=str(out), KNOBLINK_BENCH_PLAN=str(plan_path))
        env.pop("DISPLAY", None)
        cmd = [str(ROOT / "scripts" / "blender-addon"), "--gui", "--screen", "1280x720", "--port", "0",
               "--python", str(ROOT / "bench" / "wake" / "observer.py")]
        self.proc = subprocess.Popen(cmd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self.lines = []
        self._cv = threading.Condition()
        threading.Thread(target=self._collect, daemon=True).start()
        self.port = int(self.wait("knoblink-addon listening on ", 120).rsplit(":", 1)[1])
        self.discovery = self.wait("knoblink-addon discovery file ", 10).split(" file ", 1)[1]
        self.pid = int(self.wait("knoblink-wake-bench ready", 60).split("pid=")[1])

    def _collect(self):
        for raw in self.proc.stdout:
            with self._cv:
                self.lines.append(raw.decode(errors="replace").rstrip("\n"))
                self._cv.notify_all()

    def wait(self, prefix, timeout):
        end = clock() + timeout
        with self._cv:
            while True:
                for i, line in enumerate(self.lines):
                    if line.startswith(prefix):
                        self.seen = getattr(self, "seen", []) + self.lines[: i + 1]
                        del self.lines[: i + 1]
                        return line
                if clock() > end or self.proc.poll() is not None:
                    raise SystemExit(f"wake_bench: no '{prefix}' from Blender; last lines:\n" +
                                     "\n".join((getattr(self, "seen", []) + self.lines)[-40:]))
                self._cv.wait(0.1)

    def stop(self):
        try:
            self.proc.stdin.close()
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class Client:
    """A Contract 2 client: hello with the discovery file's token, then sets."""

    def __init__(self, port, token):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.sendall(json.dumps({"hello": 1, "client": "knoblink/wake-bench", "token": token}).encode()
                          + b"\n")
        reply = self.sock.makefile("rb").readline()
        if b'"hello"' not in reply:
            raise SystemExit(f"wake_bench: hello refused: {reply!r}")

    def set(self, path, value):
        self.sock.sendall(b'{"op":"set","path":%s,"value":%d}\n' % (json.dumps(path).encode(), value))


class Bridge:
    """build/bridge/knoblink reading a pty fed by this script."""

    def __init__(self, binary, port, out, n):
        self.master, slave = os.openpty()
        tty = os.ttyname(slave)
        import tty as ttymod
        ttymod.setraw(slave)
        cfg = out / "wake.yaml"
        cfg.write_text(f"blender: {{port: {port}}}\ndevices:\n  box:\n    serial: {{port: {tty}}}\n"
                       f"mappings:\n  - control: box.k1\n    set: '{KB}'\n"
                       f"    from: [0, {n}]\n    to: [0, {n}]\n")
        self.log = open(out / "bridge.log", "w+")
        self.proc = subprocess.Popen([binary, "run", "--config", str(cfg)], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        os.close(slave)
        self._wait_log("blender: connected to", 20)

    def _wait_log(self, text, timeout):
        end = clock() + timeout
        while clock() < end:
            self.log.seek(0)
            if text in self.log.read():
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.log.seek(0)
        raise SystemExit(f"wake_bench: the bridge never said '{text}':\n{self.log.read()}")

    def set(self, _path, value):
        os.write(self.master, b"k1 %d\n" % value)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        os.close(self.master)


def stream(sender, phase):
    """Send 1..n paced at hz; returns the send times (index v-1)."""
    n, period = phase["n"], 1.0 / phase["hz"]
    sent = []
    start = clock() + 0.05
    for v in range(1, n + 1):
        target = start + (v - 1) * period
        delay = target - clock()
        if delay > 0:
            time.sleep(delay)
        sent.append(clock())
        sender.set(KB, v)
    return sent


def percentile(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * (len(xs) - 1) + 0.5))] if xs else float("nan")


def analyse(phase, sent, samples):
    """Every message's latency: its send time to the first observation of it or a newer value."""
    lat, missing, j = [], 0, 0
    stale, seen = 0, 0
    for v, _t in samples:
        if v < seen:
            stale += 1
        seen = max(seen, v)
    for v in range(1, len(sent) + 1):
        while j < len(samples) and samples[j][0] < v:
            j += 1
        if j == len(samples):
            missing += 1
            continue
        lat.append((samples[j][1] - sent[v - 1]) * 1000.0)
    final = samples[-1][0] if samples else None
    return {"messages": len(sent), "latency_ms": {"p50": round(percentile(lat, 0.5), 3),
                                                 "p99": round(percentile(lat, 0.99), 3),
                                                 "max": round(max(lat), 3) if lat else None},
            "never_visible": missing, "staleness": stale, "final": final,
            "final_exact": final == len(sent), "values_seen": len(samples)}


def run_phase(k, phase, blender, client, bridge, out):
    control = client  # phases are armed over the direct link (the bridge maps only k1)
    control.set(PHASE, k)
    blender.wait(f"knoblink-wake-bench armed {k} ", 60)  # the loop at rest again (observer.py)
    b0, g0, t0 = cpu_ticks(blender.pid), cpu_ticks(bridge.proc.pid) if bridge else 0, clock()
    if phase["kind"] == "idle":
        time.sleep(phase["seconds"])
        sent = []
    else:
        sent = stream(bridge if phase["route"] == "bridge" else client, phase)
    b1, g1, t1 = cpu_ticks(blender.pid), cpu_ticks(bridge.proc.pid) if bridge else 0, clock()
    time.sleep(0.3)
    control.set(PHASE, -k)
    blender.wait(f"knoblink-wake-bench done {k}", 10)
    data = json.loads((out / f"phase-{k}.json").read_text())
    wall = t1 - t0
    result = dict(phase, blender_cpu=round((b1 - b0) / TICK / wall, 3),
                  passes_per_s=round(data["passes"] / data["seconds"]), wakeups=data["wakeups"])
    if bridge is not None and phase.get("route") == "bridge":
        result["bridge_cpu"] = round((g1 - g0) / TICK / wall, 3)
    if sent:
        result.update(analyse(phase, sent, [tuple(s) for s in data["samples"]]))
    return result


def main():
    opts = options()
    out = pathlib.Path(opts.out)
    phases = plan(opts)
    plan_path = out / "plan.json"
    plan_path.write_text(json.dumps(phases))
    blender = Blender(out, plan_path)
    bridge = None
    results = []
    try:
        token = json.loads(pathlib.Path(blender.discovery).read_text())["token"]
        client = Client(blender.port, token)
        for k, phase in enumerate(phases, 1):
            if phase.get("route") == "bridge" and bridge is None:
                bridge = Bridge(opts.bridge, blender.port, out, max(p["n"] for p in phases
                                                                    if p.get("route") == "bridge"))
            r = run_phase(k, phase, blender, client, bridge, out)
            print("knoblink-wake-bench " + json.dumps(r), flush=True)
            results.append(r)
        client.set(PHASE, 9999)
    finally:
        if bridge is not None:
            bridge.stop()
        blender.stop()
    table(results)


def table(results):
    print("\n| route | rate | wake-up | p50 ms | p99 ms | max ms | stale | final exact | "
          "Blender CPU | bridge CPU |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        wake = f"on ({r['wake_ms']} ms)" if r["wake_ms"] else "off"
        if r["kind"] == "idle":
            print(f"| idle {r['seconds']:.0f} s | - | {wake} | | | | | | {r['blender_cpu'] * 100:.1f} % | |")
            continue
        lat = r["latency_ms"]
        bridge_cpu = f"{r['bridge_cpu'] * 100:.1f} %" if "bridge_cpu" in r else ""
        print(f"| {r['route']} | {r['hz']} Hz | {wake} | {lat['p50']:.2f} | {lat['p99']:.2f} | "
              f"{lat['max']:.2f} | {r['staleness']} | {'yes' if r['final_exact'] else 'NO'} "
              f"({r['final']}/{r['messages']}) | {r['blender_cpu'] * 100:.0f} % | {bridge_cpu} |")


if __name__ == "__main__":
    sys.exit(main())
