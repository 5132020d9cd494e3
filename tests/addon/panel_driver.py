"""Runs in PyPI bpy (python3 panel_driver.py; BLENDER_USER_SCRIPTS holds addons/knoblink):
enables the add-on, plays a bridge on a real socket (its mappings and status lines),
pumps the drain, then calls every KnobLink panel section's draw with a layout that
records what it is asked to show, and checks every icon is one Blender has.
Prints `knoblink-panel: ...` lines and one `knoblink-panel-labels {...}` JSON line."""

import json
import socket
import sys
import time

import bpy
import addon_utils

ICONS = set(bpy.types.UILayout.bl_rna.functions["label"].parameters["icon"].enum_items.keys())


class Layout:
    """Records label texts and icons; rows and columns are layouts too."""

    def __init__(self, out):
        self.out = out

    def label(self, text="", icon="NONE"):
        if icon not in ICONS:
            raise AssertionError(f"icon {icon!r} is not one Blender has")
        self.out.append([text, icon])

    def row(self, **_kw):
        return self

    def split(self, **_kw):
        return self

    def column(self, **_kw):
        return self

    def operator(self, idname, **_kw):
        self.out.append([f"operator {idname}", _kw.get("icon", "NONE")])

    def prop(self, *_a, **_kw):
        pass


class Context:
    class region:  # noqa: N801
        width = 300

    preferences = bpy.context.preferences


def main():
    mod = addon_utils.enable("knoblink", default_set=True)
    link = mod.link.running()
    disc = json.load(open(link.discovery_path))
    s = socket.create_connection(("127.0.0.1", link.server.port))
    f = s.makefile("rwb")

    def send(obj):
        f.write(json.dumps(obj).encode() + b"\n")
        f.flush()
    send({"hello": 1, "client": "knoblink/panel-test", "token": disc["token"]})
    hello = json.loads(f.readline())
    print("knoblink-panel: hello", json.dumps(hello), flush=True)
    cube = 'bpy.data.objects["Cube"].location[0]'
    send({"op": "mappings", "file": "/tmp/box.yaml", "mappings": [
        {"control": "box.k1", "does": "set", "target": cube, "line": 6},
        {"control": "box.b1", "does": "call", "target": "screen.animation_play", "line": 9, "on": "press"},
        {"control": "box.k2", "does": "set", "target": 'bpy.data.objects["Cube"].location[1]', "line": 0,
         "unsaved": "/tmp/box.yaml is read-only (mode 0444)"}]})
    send({"op": "status", "file": "/tmp/box.yaml", "reloads": 1, "config_errors": ["/tmp/box.yaml:3:5: bad key"],
          "devices": [{"name": "box", "kind": "serial", "state": "lost", "attached": "", "detail": "waiting: gone"}],
          "layers": [{"name": "shift", "on": True}], "record": True,
          "errors": [{"text": "Blender refused set x: not_found no x", "count": 2, "at": time.time()}],
          "latency": {"read_to_sent": {"n": 4, "p50_us": 80, "p99_us": 410, "max_us": 500, "window_s": 5,
                                       "total": {"n": 9, "p50_us": 80, "p99_us": 410, "max_us": 500}}}})
    send({"op": "set", "path": cube, "value": 1.25, "id": 1})
    send({"op": "set", "path": 'bpy.data.objects["Nope"].location[0]', "value": 1, "id": 2})
    end = time.monotonic() + 20
    while time.monotonic() < end:
        mod.pump()
        snap = link.panel.snapshot()
        b = snap["bridges"][0] if snap["bridges"] else None
        if b and b["status"] and b["mappings"] and b["mappings"][0]["value"] == 1.25 and snap["errors"]:
            break
        time.sleep(0.05)
    labels = {}
    for cls in (bpy.types.KNOBLINK_PT_panel, bpy.types.KNOBLINK_PT_bridge, bpy.types.KNOBLINK_PT_mappings,
                bpy.types.KNOBLINK_PT_errors, bpy.types.KNOBLINK_PT_latency):
        out = []
        panel = type("P", (), {"layout": Layout(out)})()
        cls.draw(panel, Context)
        if hasattr(cls, "draw_header"):
            cls.draw_header(panel, Context)
        labels[cls.__name__] = out
    print("knoblink-panel-labels " + json.dumps(labels), flush=True)
    s.close()
    addon_utils.disable("knoblink", default_set=False)


main()
