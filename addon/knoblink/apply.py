"""The only module that touches bpy: resolves data paths, applies queued
commands on the main thread within a per-tick time budget, sends watch
feedback, groups gestures into undo steps, and owns the timer."""

import contextlib
import sys
import time

import bpy

from . import protocol
from .protocol import ProtocolError
from .server import Server


class Settings:
    """What the link runs with (preferences, possibly overridden by env)."""

    def __init__(self, host="127.0.0.1", port=9876, token="", max_clients=8, budget_ms=2.0,
                 operators=protocol.DEFAULT_OPERATORS):
        self.host, self.port, self.token, self.max_clients = host, port, token, max_clients
        self.budget_ms = budget_ms
        self.operators = frozenset(operators)


# ---------------------------------------------------------------- targets

class Target:
    """A resolved, writable-or-readable value: struct + RNA property (and
    array index), or struct + custom property key."""

    __slots__ = ("struct", "prop", "index", "key", "kind", "length", "rna", "path")


_IDPROP_KIND = {bool: "BOOLEAN", int: "INT", float: "FLOAT", str: "STRING"}


def _root(p):
    if p.root[0] == "data":
        _, coll_name, name, lib = p.root
        coll = getattr(bpy.data, coll_name, None)
        if not isinstance(coll, bpy.types.bpy_prop_collection):
            raise ProtocolError("not_found", f"{p.text}: bpy.data has no collection {coll_name!r}")
        try:
            return coll[(name, lib) if lib is not None else name]
        except KeyError:
            raise ProtocolError("not_found", f"{p.text}: no {name!r} in bpy.data.{coll_name}") from None
    value = getattr(bpy.context, p.root[1], None)
    if value is None:
        raise ProtocolError("not_found", f"{p.text}: context.{p.root[1]} is None here")
    return value


def resolve(p):
    """ParsedPath -> Target, or ProtocolError naming the part that failed."""
    struct = _root(p)
    if p.prefix:
        try:
            struct = struct.path_resolve(p.prefix)
        except ValueError:
            raise ProtocolError("not_found", f"{p.text}: {p.prefix!r} does not resolve") from None
    if not isinstance(struct, bpy.types.bpy_struct):
        raise ProtocolError("not_found", f"{p.text}: {p.prefix or p.root[-1]!r} is not a struct")
    t = Target()
    t.struct, t.path, t.prop, t.index, t.key, t.rna = struct, p.text, p.prop, p.index, p.key, None
    if p.key is not None:
        try:
            v = struct[p.key]
        except KeyError:
            raise ProtocolError("not_found", f"{p.text}: no custom property {p.key!r}") from None
        except TypeError:
            raise ProtocolError("wrong_type", f"{p.text}: {type(struct).__name__} has no custom properties")
        if hasattr(v, "to_list"):
            v = v.to_list()
        t.length = len(v) if isinstance(v, list) else 0
        t.kind = _IDPROP_KIND.get(type(v[0] if t.length else v), "GROUP")
        return t
    rna = struct.bl_rna.properties.get(p.prop)
    if rna is None:
        raise ProtocolError("not_found", f"{p.text}: {struct.bl_rna.identifier} has no property {p.prop!r}")
    t.rna = rna
    t.kind = "ENUM_FLAG" if rna.type == "ENUM" and rna.is_enum_flag else rna.type
    dims = [d for d in getattr(rna, "array_dimensions", ()) if d]
    t.length = rna.array_length if rna.type in ("FLOAT", "INT", "BOOLEAN") else 0
    if len(dims) > 1:
        t.kind = "MATRIX"
    if p.index is not None:
        if not t.length:
            raise ProtocolError("wrong_type", f"{p.text}: {p.prop!r} is not an array")
        if p.index >= t.length:
            raise ProtocolError("not_found", f"{p.text}: index {p.index} but {p.prop!r} has {t.length} elements")
        t.length = 0
    return t


def read(t):
    """The target's current value as JSON-ready data."""
    if t.key is not None:
        v = t.struct[t.key]
        if hasattr(v, "to_list"):
            v = v.to_list()
        elif hasattr(v, "to_dict"):
            v = v.to_dict()
    else:
        v = getattr(t.struct, t.prop)
        if t.index is not None:
            v = v[t.index]
        elif isinstance(v, bpy.types.bpy_struct):
            v = getattr(v, "name", None)
    return protocol.json_value(v)


def _range(t):
    if t.rna is not None:
        return t.rna.hard_min, t.rna.hard_max
    try:
        ui = t.struct.id_properties_ui(t.key).as_dict()
    except (TypeError, AttributeError):
        return -float("inf"), float("inf")
    return ui.get("min", -float("inf")), ui.get("max", float("inf"))


def write(t, value, clamp=False):
    """Coerce value to the target's type, range-check (or clamp) it, set it."""
    if t.rna is not None and t.struct.is_property_readonly(t.prop):
        raise ProtocolError("read_only", f"{t.path} is read-only")
    v = protocol.coerce_target(value, t.kind, t.length, t.path)
    if t.kind in ("INT", "FLOAT"):
        lo, hi = _range(t)
        if clamp:
            v = min(max(v, lo), hi)
        else:
            protocol.check_range(v, lo, hi, t.path)
    try:
        if t.key is not None:
            t.struct[t.key] = v
        elif t.index is None:
            setattr(t.struct, t.prop, v)
        else:
            getattr(t.struct, t.prop)[t.index] = v
    except TypeError as e:
        raise ProtocolError("wrong_type", f"{t.path}: {e}") from None
    except (ValueError, AttributeError, RuntimeError) as e:
        raise ProtocolError("bad_value", f"{t.path}: {e}") from None


def _current_number(t):
    if t.length or t.kind not in ("INT", "FLOAT"):
        raise ProtocolError("wrong_type", f"{t.path}: add needs a single int or float "
                            f"(this is {t.kind.lower()}{f'[{t.length}]' if t.length else ''})")
    return t.struct[t.key] if t.key is not None else (
        getattr(t.struct, t.prop) if t.index is None else getattr(t.struct, t.prop)[t.index])


def toggle(t):
    if t.length or t.kind not in ("BOOLEAN", "INT") or (t.kind == "INT" and t.key is None):
        raise ProtocolError("wrong_type", f"{t.path}: toggle needs a bool (or a 0/1 custom property)")
    cur = t.struct[t.key] if t.key is not None else (
        getattr(t.struct, t.prop) if t.index is None else getattr(t.struct, t.prop)[t.index])
    write(t, 0 if cur else 1)


def keyframe(t):
    data_path = t.prop if t.key is None else f"[{protocol._quote(t.key)}]"
    try:
        ok = t.struct.keyframe_insert(data_path, index=-1 if t.index is None else t.index)
    except (TypeError, RuntimeError) as e:
        raise ProtocolError("keyframe_failed", f"{t.path}: {e}") from None
    if not ok:
        raise ProtocolError("keyframe_failed", f"{t.path}: Blender inserted no keyframe")


def _override():
    """A window context for operators run from a timer (none in background)."""
    ctx = bpy.context
    if ctx.window is not None or not ctx.window_manager or not ctx.window_manager.windows:
        return contextlib.nullcontext()
    win = ctx.window_manager.windows[0]
    areas = sorted(win.screen.areas, key=lambda a: a.type != "VIEW_3D")
    kw = {"window": win, "screen": win.screen}
    if areas:
        kw["area"] = areas[0]
        kw["region"] = next((r for r in areas[0].regions if r.type == "WINDOW"), None)
    return ctx.temp_override(**kw)


def call_operator(name, args, allowed):
    if name not in allowed:
        raise ProtocolError("not_allowed", f"operator {name!r} is not on the allow-list "
                            "(Preferences > Add-ons > KnobLink > Allowed operators)")
    group, fn = name.split(".")
    op = getattr(getattr(bpy.ops, group), fn)
    try:
        op.get_rna_type()
    except KeyError:
        raise ProtocolError("operator_failed", f"no operator {name!r} in this Blender") from None
    try:
        with _override():
            if not op.poll():
                raise ProtocolError("operator_failed", f"{name}: poll() failed in this context")
            result = op("EXEC_DEFAULT", **args)
    except TypeError as e:
        raise ProtocolError("bad_value", f"{name}: {e}") from None
    except RuntimeError as e:
        raise ProtocolError("operator_failed", f"{name}: {str(e).strip()}") from None
    if "CANCELLED" in result:
        raise ProtocolError("operator_failed", f"{name} was cancelled")


# ---------------------------------------------------------------- the link

_UNSENT = object()


class Link:
    """Server + queue + the main-thread drain. One per running add-on."""

    def __init__(self, settings, log=None):
        self.settings = settings
        self.log = log or (lambda msg: print(f"knoblink: {msg}", file=sys.stderr, flush=True))
        self.queue = protocol.CommandQueue()
        self.gestures = protocol.GestureTracker()
        self.server = None
        self.watches = {}  # connection -> {path text: [ParsedPath, last value sent]}
        self.error = ""
        self.applied = 0
        self.rate = 0.0
        self.last_tick_ms = 0.0
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
            self.server.stop()
            self.log(f"stopped listening on {self.server.address}")
            self.server = None

    @property
    def last_error(self):
        server_error = self.server.last_error if self.server else ""
        return self.error or server_error

    # ------------------------------------------------------------ the drain
    def drain(self, budget_s=None):
        """Apply queued commands until the queue is empty or budget_s passes
        (at least one per call), then undo steps and watches. Returns the
        number of queue entries applied."""
        clock = time.perf_counter
        t0 = clock()
        deadline = t0 + (self.settings.budget_ms / 1000.0 if budget_s is None else budget_s)
        self._now = time.monotonic()
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
        due = self.gestures.due(self._now)
        if due:
            self._undo_push(due)
        if self.watches:
            self._check_watches()
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
        if op == "call":
            call_operator(cmd.operator, cmd.args, self.settings.operators)
            return
        if op == "ping":
            return
        p = cmd.path
        if op == "unwatch":
            self.watches.get(conn, {}).pop(p.text, None)
            return
        t = resolve(p)
        if op == "set":
            write(t, value)
            self.gestures.touch(p.text, self._now)
        elif op == "add":
            cur = _current_number(t)
            write(t, cur + value, clamp=True)
            self.gestures.touch(p.text, self._now)
        elif op == "toggle":
            toggle(t)
            self.gestures.end(p.text)
        elif op == "keyframe":
            keyframe(t)
            self.gestures.end(p.text)
        elif op == "watch":
            read(t)
            self.watches.setdefault(conn, {})[p.text] = [p, _UNSENT]

    # ------------------------------------------------------------ feedback
    def _check_watches(self):
        post = self.server.post if self.server is not None else None
        for conn in list(self.watches):
            if conn.closed or post is None:
                del self.watches[conn]
                continue
            for text, w in self.watches[conn].items():
                try:
                    v = read(resolve(w[0]))
                except (ProtocolError, ReferenceError, KeyError, IndexError):
                    v = None
                if w[1] is _UNSENT or v != w[1]:
                    w[1] = v
                    post(conn, {"ev": "value", "path": text, "value": v})

    def _undo_push(self, paths):
        names = ", ".join(paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")
        try:
            with _override():
                if bpy.ops.ed.undo_push.poll():
                    bpy.ops.ed.undo_push(message=f"KnobLink: {names}")
        except (RuntimeError, TypeError) as e:
            self.error = f"undo push failed: {e}"

    def _redraw_panel(self):
        shown = (len(self.server.clients) if self.server else 0, round(self.rate), len(self.queue),
                 self.last_error)
        if shown == self._shown or self._now - self._shown_t < 0.5:
            return
        self._shown, self._shown_t = shown, self._now
        for win in bpy.context.window_manager.windows:
            for area in win.screen.areas:
                if area.type == "VIEW_3D":
                    for region in area.regions:
                        if region.type == "UI":
                            region.tag_redraw()


# ---------------------------------------------------------------- module state

current = None  # the running Link, for the timer, the panel and pump()


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
