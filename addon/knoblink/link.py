"""The composition root: one Link wires the socket server, the command
queue, the main-thread drain (bpy.app.timers), the watches, undo gestures
and what goes back to the clients. The bpy work itself is apply.py's."""

import sys
import time

import bpy

from . import apply, protocol
from .cmdqueue import CommandQueue, GestureTracker
from .protocol import ProtocolError
from .server import Server


class Settings:
    """What the link runs with (preferences, possibly overridden by env)."""

    def __init__(self, host="127.0.0.1", port=9876, token="", max_clients=8, budget_ms=2.0,
                 operators=protocol.DEFAULT_OPERATORS):
        self.host, self.port, self.token, self.max_clients = host, port, token, max_clients
        self.budget_ms = budget_ms
        self.operators = frozenset(operators)


_UNSENT = object()


class Link:
    """Server + queue + the main-thread drain. One per running add-on."""

    def __init__(self, settings, log=None):
        self.settings = settings
        self.log = log or (lambda msg: print(f"knoblink: {msg}", file=sys.stderr, flush=True))
        self.queue = CommandQueue()
        self.gestures = GestureTracker()
        self.roots = apply.Roots()
        self.server = None
        self.watches = {}  # connection -> {path text: [ParsedPath, last value sent]}
        self.error = ""
        self.applied = 0
        self.rate = 0.0
        self.last_tick_ms = 0.0  # the whole last drain
        self.last_apply_ms = 0.0  # its command loop (what the budget bounds)
        self.last_undo_ms = 0.0  # the last undo push (one per gesture, outside the budget)
        self._rate_t, self._rate_n = time.monotonic(), 0
        self._now = 0.0
        self._shown, self._shown_t = None, 0.0

    # ------------------------------------------------------------ lifecycle
    def start(self):
        s = self.settings
        try:
            self.server = Server(self.queue, s.host, s.port, s.token, s.max_clients,
                                 {"blender": bpy.app.version_string}, self.log)
            self.server.start()
        except (OSError, ValueError) as e:
            self.server = None
            self.error = f"not listening: {e}"
            self.log(self.error)
            return False
        print(f"knoblink-addon listening on {self.server.address}", flush=True)
        return True

    def stop(self):
        if self.server is not None:
            t0 = time.perf_counter()
            self.server.stop()
            self.log(f"stopped listening on {self.server.address} "
                     f"({(time.perf_counter() - t0) * 1000:.0f} ms)")
            self.server = None

    @property
    def last_error(self):
        server_error = self.server.last_error if self.server else ""
        return self.error or server_error

    # ------------------------------------------------------------ to the clients
    def broadcast(self, obj):
        """Send obj to every connected client (events that concern them all)."""
        if self.server is not None:
            for conn in list(self.server.clients):
                self.server.post(conn, obj)

    # ------------------------------------------------------------ the drain
    def drain(self, budget_s=None):
        """Apply queued commands until the queue is empty or budget_s passes
        (at least one per call), then undo steps and watches. Returns the
        number of queue entries applied."""
        clock = time.perf_counter
        t0 = clock()
        deadline = t0 + (self.settings.budget_ms / 1000.0 if budget_s is None else budget_s)
        self._now = time.monotonic()
        self.roots.forget()
        n = 0
        pop = self.queue.pop
        while True:
            e = pop()
            if e is None:
                break
            self._apply_entry(e)
            n += 1
            if clock() >= deadline:
                break
        self.last_apply_ms = (clock() - t0) * 1000.0
        due = self.gestures.due(self._now)
        if due:
            t_undo = clock()
            self._undo_push(due)
            self.last_undo_ms = (clock() - t_undo) * 1000.0
        if self.watches:
            self._check_watches()
        self.roots.forget()  # never keep bpy pointers past the tick
        self.applied += n
        self._rate_n += n
        if self._now - self._rate_t >= 1.0:
            self.rate = self._rate_n / (self._now - self._rate_t)
            self._rate_t, self._rate_n = self._now, 0
        self.last_tick_ms = (clock() - t0) * 1000.0
        return n

    def tick(self):
        """The bpy.app.timers callback; never raises. Returns the next interval."""
        try:
            self.drain()
            if not bpy.app.background:
                self._redraw_panel()
        except Exception as e:  # keep the timer alive; say what broke
            self.error = f"drain failed: {e!r}"
            self.log(self.error)
        if len(self.queue):
            return 0.0
        return 0.005 if self.server is not None and self.server.clients else 0.05

    def _reply(self, replies, err=None):
        post = self.server.post if self.server is not None else None
        if post is None:
            return
        seen = set()
        for conn, cid in replies:
            if err is None:
                if cid is not None:
                    post(conn, {"id": cid, "ok": True})
            elif cid is not None or conn not in seen:
                seen.add(conn)
                post(conn, protocol.error_reply(err.code, err.message, cid))
        if err is not None:
            self.error = f"{err.code}: {err.message}"

    def _apply_entry(self, e):
        cmd = e.cmd
        if cmd.op == "batch":
            self._apply_batch(cmd, e.replies[0][0])
            return
        try:
            self._run(cmd, e.value, e.replies[0][0])
        except ProtocolError as err:
            self._reply(e.replies, err)
        else:
            self._reply(e.replies)

    def _apply_batch(self, cmd, conn):
        first = None
        for i, sub in enumerate(cmd.ops):
            try:
                self._run(sub, sub.value, conn)
            except ProtocolError as err:
                err = ProtocolError(err.code, f"ops[{i}]: {err.message}")
                if sub.id is not None or cmd.id is None:
                    self._reply([(conn, sub.id)], err)
                first = first or err
            else:
                self._reply([(conn, sub.id)])
        if cmd.id is not None:
            self._reply([(conn, cmd.id)], first)

    def _run(self, cmd, value, conn):
        """Apply one command; every failure becomes a ProtocolError."""
        try:
            self._apply(cmd, value, conn)
        except ProtocolError:
            raise
        except Exception as e:
            raise ProtocolError("internal", f"{cmd.op} {cmd.path.text if cmd.path else cmd.operator}: "
                                f"{e!r}") from None

    def _apply(self, cmd, value, conn):
        op = cmd.op
        if op == "ping":
            return
        p = cmd.path
        if op == "unwatch":
            self.watches.get(conn, {}).pop(p.text, None)
        elif op == "watch":
            apply.read(apply.resolve(p, self.roots))  # a watch that cannot be read is answered now
            self.watches.setdefault(conn, {})[p.text] = [p, _UNSENT]
        else:
            apply.run(cmd, value, self.roots, self.settings.operators)
            if op == "set" or op == "add":
                self.gestures.touch(p.text, self._now)
            elif op == "toggle" or op == "keyframe":
                self.gestures.end(p.text)

    # ------------------------------------------------------------ feedback
    def _check_watches(self):
        post = self.server.post if self.server is not None else None
        for conn in list(self.watches):
            if conn.closed or post is None:
                del self.watches[conn]
                continue
            for text, w in self.watches[conn].items():
                v = apply.watched_value(w[0], self.roots)
                if w[1] is _UNSENT or v != w[1]:
                    w[1] = v
                    post(conn, {"ev": "value", "path": text, "value": v})

    def _undo_push(self, paths):
        names = ", ".join(paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")
        try:
            apply.undo_push(f"KnobLink: {names}")
        except ProtocolError as err:
            self.error = err.message

    def _redraw_panel(self):
        shown = (len(self.server.clients) if self.server else 0, round(self.rate), len(self.queue),
                 self.last_error)
        if shown == self._shown or self._now - self._shown_t < 0.5:
            return
        self._shown, self._shown_t = shown, self._now
        apply.redraw_sidebars()


# ---------------------------------------------------------------- module state

current = None  # the running Link, for the timer, the panel and pump(); read it through running()


def running():
    """The running Link, or None before start() / after stop()."""
    return current


def _timer():
    return current.tick() if current is not None else None


def start(settings):
    """Start the link and its timer (register())."""
    global current
    stop()
    current = Link(settings)
    current.start()
    if not bpy.app.timers.is_registered(_timer):
        bpy.app.timers.register(_timer, first_interval=0.0, persistent=True)
    return current


def stop():
    """Stop the timer and the server (unregister())."""
    global current
    if bpy.app.timers.is_registered(_timer):
        bpy.app.timers.unregister(_timer)
    if current is not None:
        current.stop()
        current = None


def pump(budget_s=None):
    """One drain, for background Blender where timers never fire."""
    return current.drain(budget_s) if current is not None else 0
