"""KnobLink: a live link from a knob box (through the knoblink bridge) to Blender.

Listens for Contract 2 NDJSON on 127.0.0.1:9876 (preferences), requires the
token from its discovery file (or the preferences) on every connection,
applies what the wire may write (numbers, bools, enums; never code, strings
or file paths) on the main thread from a timer. See docs/protocol.md and
docs/security.md.
"""

bl_info = {
    "name": "KnobLink",
    "author": "knoblink",
    "version": (0, 1, 0),
    "blender": (3, 4, 0),
    "location": "3D View > Sidebar > KnobLink; Preferences > Add-ons > KnobLink",
    "description": "Drive properties and operators from a hand-built knob box through the knoblink bridge",
    "category": "Interface",
}

import os

import bpy

from . import bridge_process, learn, link, record, ui

classes = (
    ui.KNOBLINK_AP_preferences,
    ui.KNOBLINK_OT_restart,
    ui.KNOBLINK_OT_restart_bridge,
    record.KNOBLINK_OT_record_toggle,
    ui.KNOBLINK_PT_panel,
    ui.KNOBLINK_PT_bridge,
    ui.KNOBLINK_PT_mappings,
    ui.KNOBLINK_PT_errors,
    ui.KNOBLINK_PT_latency,
) + learn.classes

ADDON_DIR = os.path.dirname(os.path.abspath(__file__))
EXAMPLE = os.path.join(ADDON_DIR, "examples", "knobbox.yaml")  # the zip brings it (scripts/package)

# Environment overrides (launcher, tests): KNOBLINK_PORT, KNOBLINK_BIND, KNOBLINK_TOKEN,
# KNOBLINK_WAKE_MS.
# The discovery file's folder comes from XDG_RUNTIME_DIR, else HOME (discovery.py).
_ENV = {"port": "KNOBLINK_PORT", "host": "KNOBLINK_BIND", "token": "KNOBLINK_TOKEN",
        "wake_ms": "KNOBLINK_WAKE_MS"}


def settings():
    """Settings from the preferences (defaults if not stored yet), then env."""
    addon = bpy.context.preferences.addons.get(__package__)
    s = link.Settings()
    if addon is not None and addon.preferences is not None:
        p = addon.preferences
        s = link.Settings(p.bind_address, p.port, p.token, p.max_clients, p.tick_budget_ms,
                           ui.allowed_operators(p), p.wake_ms)
    if os.environ.get(_ENV["port"]):
        s.port = int(os.environ[_ENV["port"]])
    s.host = os.environ.get(_ENV["host"]) or s.host
    s.token = os.environ.get(_ENV["token"]) or s.token
    if os.environ.get(_ENV["wake_ms"]):
        s.wake_ms = int(os.environ[_ENV["wake_ms"]])
    return s


def _prefs():
    addon = bpy.context.preferences.addons.get(__package__)
    return addon.preferences if addon is not None else None


def start_bridge():
    """Start (or restart) the bundled bridge for the running link (docs/install.md,
    "The extension starts the bridge"): off in the preferences, without a bin/knoblink
    in this install (a source install) or without a listening link, none runs."""
    p = _prefs()
    exe = bridge_process.bundled_executable(ADDON_DIR)
    running = link.running()
    if (p is not None and not p.run_bridge) or exe is None or running is None or running.server is None:
        bridge_process.forget()
        return None
    config = bpy.path.abspath(p.bridge_config) if p is not None and p.bridge_config else ""
    if not config:
        config = bridge_process.default_config()
        try:
            if bridge_process.ensure_config(config, EXAMPLE):
                print(f"knoblink: created {config} from the example mapping", flush=True)
        except OSError as e:
            print(f"knoblink: cannot create {config}: {e}", flush=True)
    return bridge_process.start(exe, os.path.expanduser(config), running.server.port)


def pump(budget_s=None):
    """Drain once (background Blender / bpy module, where timers never fire)."""
    return link.pump(budget_s)


def register():
    for cls in classes:
        bpy.utils.register_class(cls)
    learn.register()
    link.start(settings())
    start_bridge()


def unregister():
    bridge_process.forget()
    link.stop()
    learn.unregister()
    for cls in reversed(classes):
        bpy.utils.unregister_class(cls)
