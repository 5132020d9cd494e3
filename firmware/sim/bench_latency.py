#!/usr/bin/env python3
"""Knob-to-pty latency of knoblink-sim: time from writing `knob 1 V` on the
emulator's stdin until the firmware's `k1 V` line is read from the pty.
Usage: firmware/sim/bench_latency.py [BUILD_DIR] [SAMPLES]"""
import os, select, statistics, subprocess, sys, time, tty

build = sys.argv[1] if len(sys.argv) > 1 else "build"
samples = int(sys.argv[2]) if len(sys.argv) > 2 else 200
sim = subprocess.Popen([f"{build}/firmware/knoblink-sim", f"{build}/firmware/knobbox/knobbox.elf"],
                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
fd = os.open(sim.stdout.readline().split()[1], os.O_RDWR | os.O_NOCTTY)
tty.setraw(fd)
buf = b""

def line(timeout=2.0):
    global buf
    end = time.monotonic() + timeout
    while b"\n" not in buf:
        if not select.select([fd], [], [], max(0, end - time.monotonic()))[0]:
            raise SystemExit("timeout waiting for the firmware")
        buf += os.read(fd, 4096)
    l, buf = buf.split(b"\n", 1)
    return l.decode()

while line() != "@end":
    pass
lat = []
for i in range(samples):
    v = 100 + (i % 2) * 800  # far apart: always one event
    t0 = time.monotonic()
    sim.stdin.write(f"knob 1 {v}\n"); sim.stdin.flush()
    assert line() == f"k1 {v}"
    lat.append((time.monotonic() - t0) * 1000)
    time.sleep(0.01)
sim.stdin.write("quit\n"); sim.stdin.flush()
summary = sim.stderr.read().strip().splitlines()[-1]
sim.wait()
lat.sort()
print(f"knob -> pty latency over {samples}: median {statistics.median(lat):.2f} ms, "
      f"p95 {lat[int(0.95 * len(lat))]:.2f} ms, max {lat[-1]:.2f} ms")
print(summary)
