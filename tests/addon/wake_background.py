"""Background Blender (blender -b, or PyPI bpy in python3) for test_wake.py: no window,
so the add-on's wake-up must do nothing while a stream applies as before.

Enables the add-on (wake-up on, its default), streams 300 sets into Cube["kb"] from a
client thread over a real socket while the main thread pumps the drain (timers never
fire here), then prints "knoblink-wake-bg {...}" with what it found; exits 1 on failure."""

import json
import socket
import sys
import threading
import time

import bpy
import addon_utils

N = 300


def client(port, token, done):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(json.dumps({"hello": 1, "client": "knoblink/wake-bg", "token": token}).encode() + b"\n")
    s.recv(4096)
    for v in range(1, N + 1):
        s.sendall(b'{"op":"set","path":"bpy.data.objects[\\"Cube\\"][\\"kb\\"]","value":%d}\n' % v)
        time.sleep(0.001)
    s.sendall(b'{"op":"ping","id":1}\n')
    s.recv(4096)  # the ping's answer: everything before it was applied
    s.close()
    done.set()


def main():
    bpy.data.objects["Cube"]["kb"] = 0
    mod = addon_utils.enable("knoblink", default_set=True)
    link = mod.link.running()
    wake_ms = bpy.context.preferences.addons["knoblink"].preferences.wake_ms
    token = json.load(open(link.discovery_path))["token"]
    done = threading.Event()
    threading.Thread(target=client, args=(link.server.port, token, done), daemon=True).start()
    awake_seen, end = False, time.monotonic() + 30
    while not done.is_set() and time.monotonic() < end:
        mod.pump()
        awake_seen |= link.wake.awake
        time.sleep(0.001)
    mod.pump()
    result = {"blender": bpy.app.version_string, "background": bpy.app.background, "wake_ms": wake_ms,
              "awake_seen": awake_seen, "wakeups": link.wake.wakeups, "wake_error": link.wake.error,
              "kb": bpy.data.objects["Cube"]["kb"], "error": link.last_error, "panel": link.wake.summary()}
    addon_utils.disable("knoblink", default_set=False)
    print("knoblink-wake-bg " + json.dumps(result), flush=True)
    ok = (result["kb"] == N and not awake_seen and result["wakeups"] == 0 and wake_ms > 0
          and not result["wake_error"] and done.is_set())
    sys.exit(0 if ok else 1)


main()
