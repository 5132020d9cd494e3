"""Benchmark client for drain_bench.py (a separate process, so it does not
share Blender's GIL). Usage: flood.py PORT MODE ...

  distinct ROUNDS PATHS   per round: one set on each path, then one with an id; wait for its ack
  stream N PATHS          N sets cycling over the first PATHS paths as fast as possible, the last
                          with an id; prints the time from the first byte to its ack
"""

import json
import os
import socket
import sys
import time


def token(port):
    """The add-on's token, from its discovery file (<run>/knoblink/blender-<port>.json)."""
    run = os.environ.get("XDG_RUNTIME_DIR") or os.path.join(os.environ["HOME"], ".cache")
    with open(os.path.join(run, "knoblink", f"blender-{port}.json"), encoding="utf-8") as f:
        return json.load(f)["token"]


def path(i):
    return f'bpy.data.objects["k{i // 9}"].{("location", "rotation_euler", "scale")[i % 9 // 3]}[{i % 3}]'


def main():
    port, mode, a, b = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    s = socket.create_connection(("127.0.0.1", port))
    f = s.makefile("rb")
    s.sendall(json.dumps({"hello": 1, "client": "knoblink/bench", "token": token(port)}).encode() + b"\n")
    f.readline()
    if mode == "distinct":
        for r in range(a):
            lines = [json.dumps({"op": "set", "path": path(i), "value": r + i / 1000}) for i in range(b)]
            lines.append(json.dumps({"op": "set", "path": "context.scene.frame_current", "value": r, "id": r}))
            s.sendall(("\n".join(lines) + "\n").encode())
            while json.loads(f.readline()).get("id") != r:
                pass
    else:
        n, paths = a, b
        data = "".join(json.dumps({"op": "set", "path": path(i % paths), "value": i / 7}) + "\n"
                       for i in range(n - 1))
        data += json.dumps({"op": "set", "path": path(0), "value": -1.0, "id": "end"}) + "\n"
        t0 = time.perf_counter()
        s.sendall(data.encode())
        while json.loads(f.readline()).get("id") != "end":
            pass
        dt = time.perf_counter() - t0
        print(json.dumps({"sets": n, "seconds": dt, "per_second": n / dt}), flush=True)


main()
