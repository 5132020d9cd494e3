"""Learn and forget (docs/blender.md, "Learn"; docs/protocol.md, "Learn and forget"):
*Map to Controller* and *Forget Mapping* in every property's right-click menu, the
operators knoblink.learn / knoblink.forget behind them, and what the bridge answers,
reported in Blender and kept in LearnState (the panel and tests read it).

A learn is refused here, before anything is sent, when the wire may not write the
property (the same resolve(write=True) and policy.py rules a `set` meets) or the path is
not in Contract 2's grammar (protocol.parse_path).
"""

import collections
import math
import os
import re
import time

import bpy

from . import apply, policy, protocol
from .protocol import ProtocolError

TIMEOUT = 15.0  # seconds the bridge waits for a control (docs/protocol.md)
ANSWER_GRACE = 5.0  # after TIMEOUT: no answer at all means no bridge handled the learn
UNBOUNDED = 1e4  # a soft range end at or beyond this is Blender's "no limit"
_AXES = {"XYZ": "XYZ", "TRANSLATION": "XYZ", "EULER": "XYZ", "DIRECTION": "XYZ", "VELOCITY": "XYZ",
         "ACCELERATION": "XYZ", "XYZ_LENGTH": "XYZ", "QUATERNION": "WXYZ", "AXISANGLE": "WXYZ",
         "COLOR": "RGBA", "COLOR_GAMMA": "RGBA"}


class LearnState:
    """Learns sent and not answered yet, and the last result (a dict: ok, op, path,
    message and the answer's fields). No bpy: times are passed in."""

    def __init__(self):
        self.waiting = {}  # learns sent: path -> time sent
        self.labels = {}  # path -> what the user calls it, for the answers
        self.last = None
        self.history = collections.deque(maxlen=20)

    def sent(self, op, path, label, now):
        """A learn or forget event went out for path."""
        if len(self.labels) > 256:
            self.labels.clear()
        self.labels[path] = label
        if op == "learn":
            self.waiting[path] = now

    def label(self, path):
        return self.labels.get(path, path)

    def _keep(self, result):
        self.last = result
        self.history.append(result)
        return result

    def refused(self, op, path, message):
        return self._keep({"ok": False, "op": op, "path": path, "message": message})

    def answer(self, obj):
        """A bridge's answer (protocol.ANSWER_OPS) -> the result kept and reported."""
        op, path = obj["op"], obj["path"]
        label = self.label(path)
        if op in ("learned", "learn_failed"):
            self.waiting.pop(path, None)
        control = obj.get("control", "")
        dev, _, ctl = control.partition(".")
        where = os.path.basename(obj.get("file", ""))
        error = obj.get("error") or obj.get("reason") or ""
        if op == "learned":
            message = f"{ctl} on {dev} -> {label}"
            message += f" ({where} line {obj['line']})" if obj.get("line") else f", live but not saved: {error}"
        elif op == "forgot":
            n = obj.get("count", 0)
            message = f"forgot {n} mapping{'s' if n != 1 else ''} of {label}"
            lines = obj.get("lines") or []
            if error:
                message += f", not in the file: {error}"
            elif lines:
                message += f" ({where} line{'s' if len(lines) > 1 else ''} {', '.join(map(str, lines))})"
        elif op == "learn_failed":
            message = f"nothing learned for {label}: {error}"
        else:
            message = f"nothing forgotten for {label}: {error}"
        ok = op in ("learned", "forgot")
        return self._keep({**obj, "ok": ok and not error, "message": message})

    def expire(self, now):
        """Learns no bridge answered within TIMEOUT + ANSWER_GRACE: their results."""
        out = []
        for path, t in list(self.waiting.items()):
            if now - t > TIMEOUT + ANSWER_GRACE:
                del self.waiting[path]
                out.append(self.refused("learn_failed", path, f"nothing learned for {self.label(path)}: no bridge answered "
                                        f"within {TIMEOUT + ANSWER_GRACE:.0f} s"))
        return out


# ---------------------------------------------------------------- the property

def _round(x):
    return float(f"{x:.6g}")


def _soft_range(t, current):
    """(lo, hi) a knob sweeps: the soft range, where Blender has one (docs/blender.md, "Learn")."""
    if t.kind == "BOOLEAN":
        return 0, 1
    if t.key is not None:
        try:
            ui = t.struct.id_properties_ui(t.key).as_dict()
        except (TypeError, AttributeError):
            ui = {}
        lo, hi = ui.get("soft_min", t.lo), ui.get("soft_max", t.hi)
        rotation = ui.get("subtype") == "ANGLE"
    else:
        rna = t.struct.bl_rna.properties[t.prop]
        if t.kind == "ENUM":
            return 0, max(len(rna.enum_items) - 1, 0)
        lo, hi = rna.soft_min, rna.soft_max
        rotation = rna.unit == "ROTATION" or rna.subtype in ("ANGLE", "EULER")
    half = 100 if t.kind == "INT" else (math.pi if rotation else 10.0)
    v = current if isinstance(current, (int, float)) else 0
    if lo <= -UNBOUNDED:
        lo = max(v - half, t.lo)
    if hi >= UNBOUNDED:
        hi = min(v + half, t.hi)
    if t.kind == "INT":
        return int(round(lo)), int(round(hi))
    return _round(lo), _round(hi)


def label_for(t, p):
    """What a user calls the property: "Cube location Y", "Scene frame current"."""
    owner = getattr(t.struct, "id_data", None)
    name = getattr(owner, "name", "") or p.root[-1]
    if t.key is not None:
        return f'{name} ["{t.key}"]'
    rna = t.struct.bl_rna.properties[t.prop]
    text = f"{name} {rna.name.lower() or t.prop}"
    if p.index is not None:
        axes = _AXES.get(rna.subtype, "")
        text += f" {axes[p.index]}" if p.index < len(axes) else f" [{p.index}]"
    return text


def learnable(path):
    """The learn event for path and its label, or ProtocolError naming why not:
    bad_path, not_found, not_allowed (policy.py), read_only, wrong_type."""
    p = protocol.parse_path(path)
    t = apply.resolve(p, apply.Roots(), write=True)
    if t.kind not in policy.WRITABLE_KINDS or t.length:
        what = f"{t.kind.lower()}[{t.length}]" if t.length else t.kind.lower()
        raise ProtocolError("wrong_type", f"{path} is a {what}; a controller drives one number, bool or enum "
                            "(right-click one element of a vector)")
    if t.key is None and t.struct.is_property_readonly(t.prop):
        raise ProtocolError("read_only", f"{path} is read-only")
    lo, hi = _soft_range(t, apply.read(t))
    return {"ev": "learn", "path": path, "kind": t.kind, "min": lo, "max": hi}, label_for(t, p)


_REPR = re.compile(r"bpy\.data\.(\w+)\[('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")\](.*)", re.ASCII)


def _unrepr(literal):
    """The text of a Python string literal as repr() writes it ('Mat "A"', 'it\\'s'): its
    quotes off, its backslash escapes decoded (non-ASCII characters stay as they are)."""
    return literal[1:-1].encode("latin-1", "backslashreplace").decode("unicode_escape")


def full_path(struct, prop, index=None):
    """The full data path of struct.prop[index] as Copy Full Data Path writes it
    (bpy.data.objects["Cube"].location[1]), or "" when struct is not in bpy.data."""
    owner = getattr(struct, "id_data", None)
    m = _REPR.fullmatch(repr(owner)) if owner is not None else None
    if m is None:
        return ""
    try:
        rel = struct.path_from_id(prop)
    except (ValueError, TypeError):
        return ""
    name = _unrepr(m.group(2))
    text = f"bpy.data.{m.group(1)}[{protocol.quote(name)}]{m.group(3)}.{rel}"
    return text if index is None or index < 0 else f"{text}[{index}]"


def path_under_mouse(context):
    """The full data path of the button the context menu was opened on: what Copy Full
    Data Path copies (element index included), else built from button_pointer/button_prop."""
    wm = context.window_manager
    try:
        if bpy.ops.ui.copy_data_path_button.poll():
            saved = wm.clipboard
            wm.clipboard = ""
            try:
                bpy.ops.ui.copy_data_path_button(full_path=True)
                text = wm.clipboard
            finally:
                wm.clipboard = saved
            if text:
                return text
    except (RuntimeError, TypeError, AttributeError):
        pass
    ptr, prop = getattr(context, "button_pointer", None), getattr(context, "button_prop", None)
    if ptr is None or prop is None:
        return ""
    return full_path(ptr, prop.identifier)


# ---------------------------------------------------------------- operators

def _running():
    from . import link  # late: link imports this module
    return link.running()


def report(level, message):
    """Tell the user: the status bar (through an operator's report, which timers lack) and stderr."""
    print(f"knoblink: {message}", flush=True)
    try:
        with apply._override():
            bpy.ops.knoblink.report("EXEC_DEFAULT", level=level, message=message)
    except (RuntimeError, AttributeError, TypeError):
        pass


def _send(op, self, context, event_for):
    running = _running()
    state = running.learns if running is not None else None
    path = self.path or path_under_mouse(context)
    verb = "map" if op == "learn" else "forget"
    if not path:
        self.report({"ERROR"}, "KnobLink: no property under the mouse (right-click a value field)")
        return {"CANCELLED"}
    try:
        event, label = event_for(path)
    except ProtocolError as e:
        message = f"cannot {verb} {path}: {e.message}"
        if state is not None:
            state.refused(f"{op}_refused", path, message)
        self.report({"ERROR"}, f"KnobLink: {message}")
        return {"CANCELLED"}
    if running is None or running.server is None or not running.server.clients:
        message = f"cannot {verb} {label}: no knoblink bridge is connected"
        if state is not None:
            state.refused(f"{op}_refused", path, message)
        self.report({"ERROR"}, f"KnobLink: {message}")
        return {"CANCELLED"}
    running.broadcast(event)
    state.sent(op, path, label, time.monotonic())
    if op == "learn":
        self.report({"INFO"}, f"KnobLink: touch a control within {TIMEOUT:.0f} s to map it to {label}")
    else:
        self.report({"INFO"}, f"KnobLink: forgetting the mappings of {label}")
    return {"FINISHED"}


def _forget_event(path):
    p = protocol.parse_path(path)
    try:
        label = label_for(apply.resolve(p, apply.Roots()), p)
    except (ProtocolError, KeyError, AttributeError):
        label = path
    return {"ev": "forget", "path": path}, label


class _OnProperty:
    """An operator on one property: path, or the property under the mouse when empty."""

    path: bpy.props.StringProperty(name="Data path", description="Full data path of the property; "
                                   "empty: the property under the mouse", default="",
                                   options={"SKIP_SAVE"})
    _op, _event = "", None

    def execute(self, context):
        return _send(self._op, self, context, type(self)._event)


class KNOBLINK_OT_learn(_OnProperty, bpy.types.Operator):
    """Map the next control touched on the knob box (within 15 s) to this property"""
    bl_idname = "knoblink.learn"
    bl_label = "Map to Controller"
    _op, _event = "learn", learnable


class KNOBLINK_OT_forget(_OnProperty, bpy.types.Operator):
    """Remove the knob box mappings of this property (from the mapping file too)"""
    bl_idname = "knoblink.forget"
    bl_label = "Forget Mapping"
    _op, _event = "forget", _forget_event


class KNOBLINK_OT_report(bpy.types.Operator):
    """Show a KnobLink message in the status bar"""
    bl_idname = "knoblink.report"
    bl_label = "KnobLink Message"
    bl_options = {"INTERNAL"}

    level: bpy.props.EnumProperty(items=[(k, k.title(), "") for k in ("INFO", "WARNING", "ERROR")],
                                  options={"SKIP_SAVE"})
    message: bpy.props.StringProperty(options={"SKIP_SAVE"})

    def execute(self, _context):
        self.report({self.level}, f"KnobLink: {self.message}")
        return {"FINISHED"}


def menu_draw(self, context):
    """The two items in every number, bool or enum property's right-click menu."""
    prop = getattr(context, "button_prop", None)
    if prop is None or getattr(prop, "type", "") not in policy.WRITABLE_KINDS or _running() is None:
        return
    layout = self.layout
    layout.separator()
    layout.operator(KNOBLINK_OT_learn.bl_idname, icon="LINKED")
    layout.operator(KNOBLINK_OT_forget.bl_idname, icon="UNLINKED")


classes = (KNOBLINK_OT_learn, KNOBLINK_OT_forget, KNOBLINK_OT_report)


def register():
    bpy.types.UI_MT_button_context_menu.append(menu_draw)


def unregister():
    bpy.types.UI_MT_button_context_menu.remove(menu_draw)
