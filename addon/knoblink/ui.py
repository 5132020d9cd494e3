"""Preferences, the sidebar panel (docs/blender.md) and the restart operator.

The panel draws link.running().panel.snapshot() (status.py: plain values the
socket thread and the drain keep); it never reads bpy data itself."""

import textwrap
import time

import bpy

from . import bridge_process, link, protocol, record, status

STATE_ICONS = {"open": "CHECKMARK", "lost": "ERROR", "retrying": "TIME", "failed": "CANCEL"}


def _restart(_self=None, _context=None):
    from . import settings, start_bridge  # late: __init__ defines them from these preferences
    link.start(settings())
    start_bridge()  # the bridge follows the link (its port may have changed)


def _restart_bridge(_self=None, _context=None):
    from . import start_bridge
    start_bridge()


def _live(self, _context):
    """Budget and allow-list apply to the running link without a restart."""
    running = link.running()
    if running is not None:
        running.settings.budget_ms = self.tick_budget_ms
        running.settings.operators = frozenset(allowed_operators(self))
        running.settings.wake_ms = self.wake_ms
        running.wake.idle_s = self.wake_ms / 1000.0


def allowed_operators(prefs):
    return [name for name in prefs.allowed_operators.replace(",", " ").split() if name]


class KNOBLINK_AP_preferences(bpy.types.AddonPreferences):
    bl_idname = __package__

    port: bpy.props.IntProperty(
        name="Port", description="TCP port to listen on (the next free one is used if taken)",
        default=9876, min=0, max=65535, update=_restart)
    bind_address: bpy.props.StringProperty(
        name="Bind address", description="Address to listen on; anything but loopback needs a token",
        default="127.0.0.1", update=_restart)
    token: bpy.props.StringProperty(
        name="Token", description="Shared secret every client sends in its hello. Empty: a random one, "
        "written to the discovery file only this user can read (set one to listen beyond loopback)",
        default="", subtype="PASSWORD", update=_restart)
    max_clients: bpy.props.IntProperty(
        name="Max clients", description="Connections accepted at once", default=8, min=1, max=64,
        update=_restart)
    tick_budget_ms: bpy.props.FloatProperty(
        name="Tick budget (ms)", description="Time the main thread spends applying commands per tick",
        default=2.0, min=0.1, max=50.0, update=_live)
    wake_ms: bpy.props.IntProperty(
        name="Stay awake (ms)", description="While commands arrive and this long after the last one, "
        "Blender's main loop does not sleep 5 ms between passes: a command reaches Blender in under "
        "1.5 ms instead of up to 5 ms, for about half a core while a control moves. 0: off",
        default=100, min=0, max=2000, update=_live)
    allowed_operators: bpy.props.StringProperty(
        name="Allowed operators", description="Operators a client may call, separated by spaces or commas",
        default=" ".join(protocol.DEFAULT_OPERATORS), update=_live)
    run_bridge: bpy.props.BoolProperty(
        name="Start the bundled bridge",
        description="Run the knoblink bridge this extension brings, restart it if it stops, stop it with "
        "Blender. Off: you run knoblink yourself (a service, another machine)",
        default=True, update=_restart_bridge)
    bridge_config: bpy.props.StringProperty(
        name="Mapping file", description="The YAML mapping the bundled bridge runs with. Empty: "
        "$XDG_CONFIG_HOME/knoblink/knoblink.yaml (~/.config/knoblink/knoblink.yaml), created from the "
        "example on first use", default="", subtype="FILE_PATH", update=_restart_bridge)

    def draw(self, _context):
        col = self.layout.column()
        row = col.row()
        row.prop(self, "bind_address")
        row.prop(self, "port")
        row = col.row()
        row.prop(self, "token")
        row.prop(self, "max_clients")
        row = col.row()
        row.prop(self, "tick_budget_ms")
        row.prop(self, "wake_ms")
        col.prop(self, "allowed_operators")
        col.prop(self, "run_bridge")
        row = col.row()
        row.enabled = self.run_bridge
        row.prop(self, "bridge_config")
        _status(col)


def _status(layout):
    running = link.running()
    if running is None or running.server is None:
        why = f": {running.error}" if running and running.error else ""
        layout.label(text="Not listening" + why, icon="ERROR")
        layout.operator(KNOBLINK_OT_restart.bl_idname)
        return
    srv = running.server
    layout.label(text=f"Listening on {srv.address}", icon="LINKED")
    if running.discovery_path:
        layout.label(text=f"Discovery file: {running.discovery_path}")
    layout.label(text=f"Clients: {len(srv.clients)}/{srv.max_clients}")
    layout.label(text=f"Commands/s: {running.rate:.0f}   Queue: {len(running.queue)}")
    layout.label(text=running.wake.summary(), icon="TIME")
    if running.last_error:
        layout.label(text=f"Last error: {running.last_error}", icon="ERROR")
    if running.learns.last:  # docs/blender.md, "Learn"
        last = running.learns.last
        layout.label(text=f"Learn: {last['message']}", icon="LINKED" if last["ok"] else "ERROR")
    _bridge_status(layout)


def _bridge_status(layout):
    bridge = bridge_process.running()
    if bridge is not None:
        bridge.draw(layout)
        layout.operator(KNOBLINK_OT_restart_bridge.bl_idname, icon="FILE_REFRESH")


class KNOBLINK_OT_restart(bpy.types.Operator):
    """Restart the KnobLink server with the current preferences"""
    bl_idname = "knoblink.restart"
    bl_label = "Restart KnobLink Server"

    def execute(self, _context):
        _restart()
        running = link.running()
        if running is None or running.server is None:
            self.report({"ERROR"}, f"KnobLink: {running.error if running else 'not started'}")
            return {"CANCELLED"}
        self.report({"INFO"}, f"KnobLink listening on {running.server.address}")
        return {"FINISHED"}


class KNOBLINK_OT_restart_bridge(bpy.types.Operator):
    """Restart the bundled knoblink bridge (a save of its mapping file reloads it without one)"""
    bl_idname = "knoblink.restart_bridge"
    bl_label = "Restart Bridge"

    def execute(self, _context):
        _restart_bridge()
        bridge = bridge_process.running()
        if bridge is None:
            self.report({"WARNING"}, "KnobLink: no bundled bridge runs (off in the preferences, or not in this install)")
            return {"CANCELLED"}
        self.report({"INFO"}, f"KnobLink: {bridge.summary()}")
        return {"FINISHED"}


def _snapshot():
    running = link.running()
    return running.panel.snapshot() if running is not None else None


def _wrapped(layout, context, text, icon="NONE"):
    """A long text over several labels (a label never wraps)."""
    width = max(20, int(context.region.width / (7 * context.preferences.view.ui_scale)))
    for i, line in enumerate(textwrap.wrap(text, width) or [""]):
        layout.label(text=line, icon=icon if i == 0 else "BLANK1")


class KNOBLINK_PT_panel(bpy.types.Panel):
    """KnobLink connection status"""
    bl_label = "KnobLink"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "KnobLink"

    def draw(self, context):
        _status(self.layout.column())
        record.draw(self.layout.column(), context)
        self.layout.operator(KNOBLINK_OT_restart.bl_idname, icon="FILE_REFRESH")


class _Section:
    """What the KnobLink panel's sections share (a mix-in: the classes are bpy.types.Panel)."""
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "KnobLink"
    bl_parent_id = "KNOBLINK_PT_panel"


class KNOBLINK_PT_bridge(_Section, bpy.types.Panel):
    """The bridges connected: their mapping file, devices and layers"""
    bl_label = "Bridge"

    def draw(self, context):
        col = self.layout.column()
        snap = _snapshot()
        bridges = [b for b in snap["bridges"] if b["status"]] if snap else []
        if not bridges:
            col.label(text="No bridge connected", icon="UNLINKED")
            return
        for b in bridges:
            st = b["status"]
            name = (st["file"] or b["file"]).rsplit("/", 1)[-1] or b["peer"]
            reloads = f", reloaded {st['reloads']:g}x" if st["reloads"] else ""
            col.label(text=f"{name}{reloads}", icon="FILE_TEXT")
            for e in st["config_errors"]:
                _wrapped(col, context, e, "ERROR")
            for d in st["devices"]:
                row = col.row()
                row.label(text=f"{d['name']}: {d['state']}", icon=STATE_ICONS.get(d["state"], "QUESTION"))
                row.label(text=d["attached"] or d["detail"])
            if st["layers"]:
                row = col.row()
                for layer in st["layers"]:
                    row.label(text=layer["name"], icon="RADIOBUT_ON" if layer["on"] else "RADIOBUT_OFF")


class KNOBLINK_PT_mappings(_Section, bpy.types.Panel):
    """Each mapping (control -> target) with the target's current value"""
    bl_label = "Mappings"

    def draw(self, _context):
        col = self.layout.column(align=True)
        snap = _snapshot()
        maps = [m for b in snap["bridges"] for m in b["mappings"]] if snap else []
        if not maps:
            col.label(text="No mappings (no bridge connected)")
            return
        for m in maps:
            # control | what it does to the target | the target's value
            split = col.split(factor=0.27)
            on = f" {m['on']}" if m.get("on") else ""
            layer = f" [{m['layer']}]" if m.get("layer") else ""
            # A learned mapping the file could not take (read-only, moved): live, not saved.
            split.label(text=f"{m['control']}{on}{layer}", icon="ERROR" if m.get("unsaved") else "NONE")
            split = split.split(factor=0.72)
            unsaved = " (not saved)" if m.get("unsaved") else ""
            split.label(text=f"{m['does']} {status.short_path(m['target'])}{unsaved}")
            split.label(text="" if m["does"] == "call" or m["value"] is None else status.value_text(m["value"]))


class KNOBLINK_PT_errors(_Section, bpy.types.Panel):
    """The last errors from the bridges and from the add-on"""
    bl_label = "Errors"

    def draw_header(self, _context):
        snap = _snapshot()
        n = sum(len((b["status"] or {}).get("errors", [])) for b in snap["bridges"]) + len(snap["errors"]) \
            if snap else 0
        self.layout.label(text=f"({n})" if n else "")

    def draw(self, context):
        col = self.layout.column()
        snap = _snapshot()
        if snap is None:
            return
        now = time.time()
        shown = False
        for b in snap["bridges"]:
            for e in reversed((b["status"] or {}).get("errors", [])):
                count = f" ({e['count']:g}x)" if e["count"] > 1 else ""
                _wrapped(col, context, f"bridge, {status.age_text(e['at'], now)}{count}: {e['text']}", "ERROR")
                shown = True
        for e in reversed(snap["errors"]):
            count = f" ({e['count']:g}x)" if e["count"] > 1 else ""
            _wrapped(col, context, f"add-on, {status.age_text(e['at'], now)}{count}: {e['text']}", "ERROR")
            shown = True
        if not shown:
            col.label(text="None")


class KNOBLINK_PT_latency(_Section, bpy.types.Panel):
    """Where the time goes: device read -> sent (bridge), received -> applied (add-on)"""
    bl_label = "Latency"

    def draw(self, _context):
        col = self.layout.column()
        snap = _snapshot()
        if snap is None:
            return
        for b in snap["bridges"]:
            text = status.stage_text(((b["status"] or {}).get("latency") or {}).get("read_to_sent"))
            col.label(text="Bridge: device read -> sent")
            col.label(text=text or "nothing measured yet", icon="BLANK1")
        col.label(text="Add-on: received -> applied")
        text = status.stage_text(snap["latency"]["received_to_applied"])
        col.label(text=text or "nothing measured yet", icon="BLANK1")
