"""Shared helpers for the add-on tests: a real NDJSON socket client and
imports of the bpy-free add-on modules."""

import json
import os
import pathlib
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import types

ROOT = pathlib.Path(__file__).resolve().parents[2]
ADDON = ROOT / "addon" / "knoblink"
LISTENING = re.compile(r"knoblink-addon listening on 127\.0\.0\.1:(\d+)")

# protocol.py, values.py, cmdqueue.py and server.py import no bpy; load them
# without the package's __init__ (which registers with Blender).
if "knoblink" not in sys.modules:
    pkg = types.ModuleType("knoblink")
    pkg.__path__ = [str(ADDON)]
    sys.modules["knoblink"] = pkg


def discovery_file(port, env=None):
    """<run>/knoblink/blender-<port>.json for env (an isolated_env; default: ours)."""
    env = os.environ if env is None else env
    run = env.get("XDG_RUNTIME_DIR") or os.path.join(env.get("HOME") or os.path.expanduser("~"), ".cache")
    return pathlib.Path(run) / "knoblink" / f"blender-{port}.json"


def discovered(port, env=None):
    """The add-on's discovery file for port, parsed (fails naming the path)."""
    path = discovery_file(port, env)
    assert path.is_file(), f"no discovery file {path}"
    return json.loads(path.read_text())


class Client:
    """A Contract 2 client on a real socket. Keeps every received message
    in order; wait() takes the first one matching and fails loudly, listing
    what did arrive, when none does in time. The token comes from the
    add-on's discovery file in env (token=None) unless one is given."""

    def __init__(self, port, hello=True, token=None, name="test", env=None, session=None):
        if hello and token is None:
            token = discovered(port, env)["token"]
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.name = name
        self.buf = b""
        self.msgs = []
        self.closed = False
        self.next_id = 1000
        if hello:
            hello_line = {"hello": 1, "client": f"knoblink/{name}", "token": token}
            if session is not None:
                hello_line["session"] = session
            self.send(hello_line)
            self.hello = self.wait(lambda m: "hello" in m or "error" in m)

    def close(self):
        self.sock.close()

    def send_raw(self, data):
        self.sock.sendall(data)

    def send(self, *objs):
        self.send_raw(b"".join(json.dumps(o).encode() + b"\n" for o in objs))

    def _pump(self, timeout):
        r, _, _ = select.select([self.sock], [], [], max(timeout, 0))
        if not r:
            return
        data = self.sock.recv(1 << 20)
        if not data:
            self.closed = True
            return
        self.buf += data
        *lines, self.buf = self.buf.split(b"\n")
        self.msgs += [json.loads(line) for line in lines if line.strip()]

    def wait(self, pred, timeout=15.0, what="a matching message"):
        end = time.monotonic() + timeout
        while True:
            for i, m in enumerate(self.msgs):
                if pred(m):
                    return self.msgs.pop(i)
            left = end - time.monotonic()
            if left <= 0 or self.closed:
                raise AssertionError(f"{self.name}: no {what} within {timeout}s "
                                     f"(closed={self.closed}); received: {self.msgs[-20:]}")
            self._pump(min(left, 0.2))

    def wait_closed(self, timeout=5.0):
        """True once the server has closed the connection (EOF)."""
        end = time.monotonic() + timeout
        while not self.closed and time.monotonic() < end:
            self._pump(end - time.monotonic())
        return self.closed

    def reply(self, cid, timeout=15.0):
        return self.wait(lambda m: m.get("id") == cid and ("ok" in m or "error" in m), timeout,
                         f"reply to id {cid}")

    def request(self, obj, timeout=15.0):
        """Send obj with a fresh id and return its reply."""
        self.next_id += 1
        obj = {**obj, "id": self.next_id}
        self.send(obj)
        return self.reply(self.next_id, timeout)

    def ok(self, obj, timeout=15.0):
        r = self.request(obj, timeout)
        assert r.get("ok") is True, f"{obj} -> {r}"
        return r

    def error(self, obj, code, timeout=15.0):
        r = self.request(obj, timeout)
        assert r.get("error") == code, f"{obj}: expected error {code}, got {r}"
        assert r.get("message"), r
        return r

    def value(self, path, timeout=15.0):
        """The current value through watch (sends it once when accepted), then unwatch."""
        self.msgs = [m for m in self.msgs if not (m.get("ev") == "value" and m.get("path") == path)]
        self.ok({"op": "watch", "path": path}, timeout)
        ev = self.wait(lambda m: m.get("ev") == "value" and m.get("path") == path, timeout,
                       f"value event for {path}")
        self.ok({"op": "unwatch", "path": path}, timeout)
        return ev["value"]


class Launched:
    """A Blender with the add-on started by cmd in env (scripts/blender-addon, or a bpy
    runner script): the process, its stdout/stderr lines as they come, and the port from
    its listening line (None when none came within timeout). stop() closes stdin (the
    runner quits) and kills the process group if it does not."""

    def __init__(self, cmd, env, timeout=90):
        self.env, self.out, self.err = env, [], []
        self.proc = subprocess.Popen(cmd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, start_new_session=True)
        for stream, sink in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
            threading.Thread(target=self._collect, args=(stream, sink), daemon=True).start()
        self.port, end = None, time.monotonic() + timeout
        while self.port is None and time.monotonic() < end and self.proc.poll() is None:
            self.port = next((int(m.group(1)) for m in map(LISTENING.search, list(self.out)) if m), None)
            time.sleep(0.05)

    @staticmethod
    def _collect(stream, sink):
        for line in stream:
            sink.append(line.decode(errors="replace").rstrip("\n"))

    def check_listening(self):
        assert self.port is not None, (f"no listening line; rc={self.proc.poll()}\n"
                                       f"stdout: {self.out[-20:]}\nstderr: {self.err[-20:]}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)


def isolated_env(tmp):
    """Environment for a Blender run confined to tmp."""
    env = dict(os.environ)
    for var, sub in (("HOME", "home"), ("TMPDIR", "tmp"), ("XDG_CACHE_HOME", "cache"),
                     ("XDG_CONFIG_HOME", "config"), ("XDG_RUNTIME_DIR", "run")):
        d = pathlib.Path(tmp) / sub
        d.mkdir(mode=0o700, parents=True, exist_ok=True)
        env[var] = str(d)
    scripts = pathlib.Path(tmp) / "scripts"
    (scripts / "addons").mkdir(parents=True, exist_ok=True)
    link = scripts / "addons" / "knoblink"
    if not link.exists():
        link.symlink_to(ADDON)
    env["BLENDER_USER_SCRIPTS"] = str(scripts)
    for var in ("KNOBLINK_PORT", "KNOBLINK_BIND", "KNOBLINK_TOKEN", "DISPLAY"):
        env.pop(var, None)
    return env
