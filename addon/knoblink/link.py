"""The composition root: one Link wires the socket server, the command
queue, the main-thread drain (bpy.app.timers), the watches, undo gestures,
the discovery file, the memory of applied ids (exactly once) and what goes
back to the clients. The bpy work itself is apply.py's."""

import os
import sys
import time

import bpy
from bpy.app.handlers import persistent

from . import apply, discovery, learn, protocol, record, sessions, status, wake
from .cmdqueue import CommandQueue, GestureTracker
from .protocol import ProtocolError
from .server import Server, is_loopback


class Settings:
    """What the link runs with (preferences, possibly overridden by env)."""

    def __init__(self, host="127.0.0.1", port=9876, token="", max_clients=8, budget_ms=2.0,
                 operators=protocol.DEFAULT_OPERATORS, wake_ms=100):
        self.host, self.port, self.token, self.max_clients = host, port, token, max_clients
        self.budget_ms = budget_ms
        self.operators = frozenset(operators)
        self.wake_ms = wake_ms  # keep the loop awake this long after the last command; 0: off


_UNSENT = object()
PANEL_PERIOD = 0.2  # seconds: the panel's values are read, and it is redrawn, at most this often


class Link:
    """Server + queue + the main-thread drain. One per running add-on.
    token: the one clients must send when the settings name none (random);
    applied: the sessions' applied ids (kept across restarts of the link)."""

    def __init__(self, settings, log=None, token=None, applied=None):
        self.settings = settings
        self.token = settings.token or token or discovery.new_token()
        self.applied_ids = applied if applied is not None else sessions.AppliedIds()
        self.discovery_path = ""
        self.published_file = None  # the "file" last written to the discovery file
        self.started = time.time()
        self.log = log or (lambda msg: print(f"knoblink: {msg}", file=sys.stderr, flush=True))
        self.queue = CommandQueue()
        self.gestures = GestureTracker()
        self.wake = wake.Wake(settings.wake_ms / 1000.0)
        self._wrote = False  # the drain applied a write (set, add, toggle, keyframe, call)
        self._watched_t = 0.0
        self.roots = apply.Roots()
        self.learns = learn.LearnState()  # learns sent, the bridges' answers (learn.py)
        self.recorder = record.Recorder(self.broadcast, self._before_take, self.log)
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
        # The live panel (status.py): the bridges' status and mappings, values, errors, latency.
        self.panel = status.PanelState(time.perf_counter())
        self._touched = set()  # paths written since the panel's values were last read
        self._panel_t = 0.0

    # ------------------------------------------------------------ lifecycle
    def start(self):
        s = self.settings
        try:
            if not is_loopback(s.host) and not s.token:
                raise ValueError(f"a token is required to listen on {s.host} (anything but loopback); "
                                 "set one in the KnobLink preferences")
            self.server = Server(self.queue, s.host, s.port, self.token, s.max_clients,
                                 {"blender": bpy.app.version_string}, self.log, self.applied_ids,
                                 greeting=self.recorder.greeting, panel=self.panel)
            self.server.start()
        except (OSError, ValueError) as e:
            self.server = None
            self.error = f"not listening: {e}"
            self.log(self.error)
            return False
        try:
            for stale in discovery.remove_stale(discovery.folder()):
                self.log(f"removed {stale}: its Blender is gone")
        except OSError as e:
            self.log(f"cannot look for stale discovery files: {e}")
        self.publish()
        print(f"knoblink-addon listening on {self.server.address}", flush=True)
        if self.discovery_path:
            print(f"knoblink-addon discovery file {self.discovery_path}", flush=True)
        return True

    def publish(self):
        """Write (or rewrite: the open .blend changed) the discovery file."""
        if self.server is None:
            return
        path = discovery.path_for(self.server.port)
        self.published_file = _blend_file()
        text = discovery.content(self.server.port, self.token, os.getpid(), bpy.app.version_string,
                                 self.published_file, self.started)
        try:
            discovery.write(path, text)
        except OSError as e:
            self.error = f"cannot write the discovery file {path}: {e}"
            self.log(self.error)
            return
        self.discovery_path = path

    def stop(self):
        self.wake.stop()
        self._drop_unapplied()
        if self.recorder.take is not None:
            try:
                self.recorder.finish()  # a take running when the add-on stops is kept, thinned
            except Exception as e:  # stopping must go on (Blender may be quitting)
                self.log(f"could not finish the take: {e!r}")
        if self.discovery_path:
            discovery.remove(self.discovery_path, self.token)
            self.discovery_path = ""
        if self.server is not None:
            t0 = time.perf_counter()
            self.server.stop()
            self.log(f"stopped listening on {self.server.address} "
                     f"({(time.perf_counter() - t0) * 1000:.0f} ms)")
            self.server = None

    def _drop_unapplied(self):
        """Commands still queued are discarded with the link: their ids are
        forgotten, so a client re-sending them to the next link gets them applied."""
        while True:
            e = self.queue.pop()
            if e is None:
                return
            for conn, cid in e.replies:
                if conn.session is not None and cid is not None:
                    self.applied_ids.drop(conn.session, cid)

    @property
    def last_error(self):
        server_error = self.server.last_error if self.server else ""
        return self.error or server_error

    # ------------------------------------------------------------ to the clients
    def broadcast(self, obj):
        """Send obj to every connected client (events that concern them all)."""
        if self.server is not None:
            self.server.broadcast(obj)

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
        self.recorder.begin_drain()  # playback started or stopped since the last drain
        n = 0
        pop = self.queue.pop
        record = self.panel.applied.record
        while True:
            e = pop()
            if e is None:
                break
            self._apply_entry(e)
            n += 1
            done = clock()
            if e.cmd.t:  # received -> applied (a set merged in the queue: its newest line)
                record((done - e.cmd.t) * 1e6)
            if done >= deadline:
                break
        self.recorder.end_drain()  # keys what this drain wrote while a take runs
        self.last_apply_ms = (clock() - t0) * 1000.0
        if self._wrote:
            self._wrote = False
            self.wake.touch(self._now)
        self.wake.poll(self._now)
        # While awake no undo step is pushed (a memfile step stalls the loop for
        # tens of ms): gestures that ended wait until the stream rests.
        if not self.wake.awake:
            self._push_ended()
        if self.watches and (n or self._now - self._watched_t >= 0.004):
            self._watched_t = self._now  # awake, drains run every pass: read watches as often as asleep
            self._check_watches()
        if self.learns.waiting:
            for result in self.learns.expire(self._now):
                learn.report("WARNING", result["message"])
        if self.server is not None and _blend_file() != self.published_file:
            self.publish()  # a file opened before the add-on started, or a handler that did not run
        if t0 - self._panel_t >= PANEL_PERIOD:
            self._panel_t = t0
            self._refresh_panel(t0)
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
        if self.wake.awake:
            self.wake.nap()
            return 0.0  # every pass while awake (docs/performance.md, "Wake-up")
        return 0.005 if self.server is not None and self.server.clients else 0.05

    def _reply(self, cmd, replies, err=None):
        """Answer everyone waiting for cmd's outcome (err None: ok); returns the
        reply objects sent, per connection. Re-sent ids waiting for it get them too."""
        seen = set()
        for conn, cid in replies:
            obj = None
            if err is None:
                if cid is not None:
                    obj = {"id": cid, "ok": True}
            elif cid is not None or conn not in seen:
                seen.add(conn)
                obj = protocol.error_reply(err.code, err.message, cid)
            if obj is not None:
                self._post(conn, obj)
            self._remember(cmd, conn, cid, [obj] if obj is not None else [])
        if err is not None:
            self._note_error(f"{err.code}: {err.message}")

    def _note_error(self, text):
        """An error the add-on answered: the panel shows the last ones (docs/blender.md)."""
        self.error = text
        self.panel.add_error(text, time.time())

    def _post(self, conn, obj):
        if self.server is not None:
            self.server.post(conn, obj)

    def _remember(self, cmd, conn, cid, sent):
        """cid's first outcome, for a re-send in the same session (docs/protocol.md, "Exactly once")."""
        if conn.session is None or cid is None or cmd.op not in sessions.OPS:
            return
        for waiter in self.applied_ids.finish(conn.session, cid, sent, self._now):
            for obj in sent:
                self._post(waiter, obj)

    def _apply_entry(self, e):
        cmd = e.cmd
        if cmd.op == "batch":
            self._apply_batch(cmd, e.replies[0][0])
            return
        try:
            self._run(cmd, e.value, e.replies[0][0])
        except ProtocolError as err:
            self._reply(cmd, e.replies, err)
        else:
            self._reply(cmd, e.replies)

    def _apply_batch(self, cmd, conn):
        first = None
        sent = []
        for i, sub in enumerate(cmd.ops):
            obj = None
            sub.t = cmd.t  # received with its batch
            try:
                self._run(sub, sub.value, conn)
            except ProtocolError as err:
                err = ProtocolError(err.code, f"ops[{i}]: {err.message}")
                if sub.id is not None or cmd.id is None:
                    obj = protocol.error_reply(err.code, err.message, sub.id)
                    self._note_error(f"{err.code}: {err.message}")
                first = first or err
            else:
                if sub.id is not None:
                    obj = {"id": sub.id, "ok": True}
            if obj is not None:
                self._post(conn, obj)
                sent.append(obj)
        if cmd.id is not None:
            obj = ({"id": cmd.id, "ok": True} if first is None
                   else protocol.error_reply(first.code, first.message, cmd.id))
            self._post(conn, obj)
            sent.append(obj)
        self._remember(cmd, conn, cmd.id, sent)

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
        if op in protocol.ANSWER_OPS:  # a bridge answers a learn or forget
            result = self.learns.answer(value)
            learn.report("INFO" if result["ok"] else "WARNING", result["message"])
            return
        if op == "record":
            self.recorder.set(value)
            return
        p = cmd.path
        if op == "unwatch":
            self.watches.get(conn, {}).pop(p.text, None)
        elif op == "watch":
            apply.read(apply.resolve(p, self.roots))  # a watch that cannot be read is answered now
            self.watches.setdefault(conn, {})[p.text] = [p, _UNSENT]
        else:
            if op == "call":
                self._push_ended()  # an operator (ed.undo) sees every gesture that ended, awake or not
            written = apply.run(cmd, value, self.roots, self.settings.operators)
            self._wrote = True
            if op == "set" or op == "add":
                if not self.recorder.note(written, cmd.t):  # a take is one undo step of its own
                    self.gestures.touch(p.text, self._now)
                self._touched.add(p.text)
            elif op == "toggle" or op == "keyframe":
                self.gestures.end(p.text)
                self._touched.add(p.text)

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

    def _push_ended(self):
        """One undo step for the gestures that ended (cmdqueue.GestureTracker)."""
        due = self.gestures.due(self._now)
        if due:
            t0 = time.perf_counter()
            self._undo_push(due)
            self.last_undo_ms = (time.perf_counter() - t0) * 1000.0

    # ------------------------------------------------------------ the panel
    def _refresh_panel(self, now):
        """At most every PANEL_PERIOD: the values of mapped targets that were written (or
        not read yet), and the add-on's latency window, reported to the clients."""
        mapped = self.panel.mapped_paths() if self.panel.bridges else ()
        if mapped:
            known = self.panel.values
            values = {}
            for text in mapped:
                if text in self._touched or text not in known:
                    try:
                        values[text] = apply.watched_value(protocol.parse_path(text), self.roots)
                    except ProtocolError:  # a path the add-on cannot parse
                        values[text] = None
            self.panel.set_values(values)
        self._touched.clear()
        report = self.panel.roll(now)
        if report is not None:
            self.broadcast(report)

    def _before_take(self):
        """A take starts: the gestures still open get their undo steps now."""
        pending = self.gestures.flush()
        if pending:
            self._undo_push(pending)

    def _undo_push(self, paths):
        names = ", ".join(paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")
        try:
            apply.undo_push(f"KnobLink: {names}")
        except ProtocolError as err:
            self.error = err.message

    def _redraw_panel(self):
        """Tags the sidebars for redraw when what the panel shows changed, at most every
        PANEL_PERIOD: never one redraw per message."""
        rec = self.recorder
        shown = (len(self.server.clients) if self.server else 0, round(self.rate), len(self.queue),
                 self.last_error, rec.on, rec.take is not None, id(rec.last_take),
                 self.learns.last and self.learns.last["message"], self.panel.version,
                 self.wake.awake, self.wake.error)
        if shown == self._shown or self._now - self._shown_t < PANEL_PERIOD:
            return
        self._shown, self._shown_t = shown, self._now
        self.panel.redraws += 1
        apply.redraw_sidebars()


# ---------------------------------------------------------------- module state

current = None  # the running Link, for the timer, the panel and pump(); read it through running()
# Kept for the process, across restarts of the link (preferences changed): the random
# token (a connected bridge keeps working) and the sessions' applied ids (exactly once).
_token = discovery.new_token()
_applied = sessions.AppliedIds()


def running():
    """The running Link, or None before start() / after stop()."""
    return current


def _timer():
    return current.tick() if current is not None else None


def _blend_file():
    """The open .blend's absolute path, "" when unsaved or while Blender starts
    (bpy.data is restricted during startup registration; load_post follows)."""
    try:
        return bpy.data.filepath
    except AttributeError:
        return ""


@persistent
def _file_loading(*_args):
    """load_pre: the window manager is about to free its timers; remove the wake-up's first."""
    if current is not None:
        current.wake.stop()


@persistent
def _frame_changing(scene, *_args):
    """frame_change_pre: when a take's frames began (record.py)."""
    if current is not None:
        current.recorder.frame_changed(scene)


@persistent
def _file_changed(*_args):
    """load_post / save_post: the discovery file's "file" follows the open .blend."""
    if current is not None:
        current.publish()


def start(settings):
    """Start the link and its timer (register())."""
    global current
    stop()
    current = Link(settings, token=_token, applied=_applied)
    current.start()
    if not bpy.app.timers.is_registered(_timer):
        bpy.app.timers.register(_timer, first_interval=0.0, persistent=True)
    for handlers in (bpy.app.handlers.load_post, bpy.app.handlers.save_post):
        if _file_changed not in handlers:
            handlers.append(_file_changed)
    if _file_loading not in bpy.app.handlers.load_pre:
        bpy.app.handlers.load_pre.append(_file_loading)
    if _frame_changing not in bpy.app.handlers.frame_change_pre:
        bpy.app.handlers.frame_change_pre.append(_frame_changing)
    return current


def stop():
    """Stop the timer and the server (unregister())."""
    global current
    if bpy.app.timers.is_registered(_timer):
        bpy.app.timers.unregister(_timer)
    for handlers in (bpy.app.handlers.load_post, bpy.app.handlers.save_post):
        while _file_changed in handlers:
            handlers.remove(_file_changed)
    while _file_loading in bpy.app.handlers.load_pre:
        bpy.app.handlers.load_pre.remove(_file_loading)
    while _frame_changing in bpy.app.handlers.frame_change_pre:
        bpy.app.handlers.frame_change_pre.remove(_frame_changing)
    if current is not None:
        current.stop()
        current = None


def pump(budget_s=None):
    """One drain, for background Blender where timers never fire."""
    return current.drain(budget_s) if current is not None else 0
