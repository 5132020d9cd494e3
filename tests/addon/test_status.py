"""The live panel's data without Blender (addon/knoblink/status.py): the latency
histogram, the bridges' status and mappings lines as the socket thread takes
them (a real Server on a real socket), values, errors and the snapshot the
panel draws (docs/blender.md, docs/protocol.md "Status")."""

import random
import time

import pytest

import conftest
from knoblink import protocol, server, status
from knoblink.cmdqueue import CommandQueue
from knoblink.protocol import ProtocolError

TOKEN = "t0ken-for-the-status-tests"

STATUS = {"op": "status", "file": "/home/u/box.yaml", "reloads": 1,
          "config_errors": ["/home/u/box.yaml:3:5: bad"],
          "devices": [{"name": "box", "kind": "serial", "state": "open", "attached": "/dev/pts/3",
                       "detail": "connected"}],
          "layers": [{"name": "shift", "on": True}],
          "errors": [{"text": "Blender refused set x: not_found", "count": 2, "at": 1796119199.5}],
          "latency": {"read_to_sent": {"n": 10, "p50_us": 80, "p99_us": 400, "max_us": 900, "window_s": 5,
                                       "total": {"n": 100, "p50_us": 70, "p99_us": 380, "max_us": 1200}}}}
MAPPINGS = {"op": "mappings", "file": "/home/u/box.yaml",
            "mappings": [{"control": "box.k1", "does": "set", "line": 6,
                          "target": 'bpy.data.objects["Cube"].location[0]'},
                         {"control": "box.b1", "does": "call", "on": "press", "line": 9,
                          "target": "screen.animation_play"}]}


def test_buckets_match_the_bridges_and_percentiles_are_within_1_32():
    last = 0
    for us in range(0, 100_000):
        b = status.bucket(us)
        assert b in (last, last + 1)
        last = b
        low = status.bucket_low(b)
        assert low <= us and (us - low <= us / 16)
        if us < 32:
            assert low == us
    assert status.bucket(1 << 40) == status.BUCKETS - 1 == 447  # bridge/latency.hpp: 448 buckets
    rng = random.Random(7)
    data = sorted(int(rng.lognormvariate(5, 1.2)) for _ in range(20000))
    h = status.Histogram()
    for x in data:
        h.record(x)
    for q in (0.5, 0.99):
        exact = data[int(q * len(data)) - 1]
        assert abs(h.percentile(q) - exact) <= exact / 32 + 1
    assert h.summary()["max_us"] == data[-1] and h.summary()["n"] == 20000


def test_stage_windows_and_reports():
    s = status.Stage("received_to_applied", now=0.0)
    s.record(1000)
    s.record(3000)
    assert s.roll(1.0) is None  # the window is not over
    r = s.roll(5.0)
    assert r["ev"] == "latency" and r["stage"] == "received_to_applied" and r["n"] == 2
    assert r["total"]["n"] == 2 and r["window_s"] == status.WINDOW_S
    assert s.roll(10.0) is None  # an idle window: nothing to report
    assert status.stage_text({**s.last_window, "window_s": 5, "total": s.total.summary()}).endswith(
        "(n 2, since start)")


def test_parse_status_keeps_known_fields_and_names_wrong_ones():
    st = protocol.parse_command(STATUS).value
    assert st["devices"][0]["state"] == "open" and st["layers"] == [{"name": "shift", "on": True}]
    assert st["latency"]["read_to_sent"]["total"]["p99_us"] == 380
    assert "record" not in st
    assert protocol.parse_command({**STATUS, "record": True, "future": 1}).value["record"] is True
    long = protocol.parse_command({**STATUS, "file": "x" * 5000}).value
    assert len(long["file"]) == protocol.MAX_TEXT
    for bad, words in ((dict(STATUS, devices=[{"name": "b", "state": "exploded"}]), "devices[0].state"),
                       (dict(STATUS, devices="box"), "devices"),
                       (dict(STATUS, errors=[{"text": 3}]), "errors[0].text"),
                       (dict(STATUS, reloads="many"), "reloads"),
                       (dict(STATUS, latency={"s": {"n": float("nan")}}), "latency.s.n"),
                       (dict(STATUS, config_errors=[1]), "config_errors")):
        with pytest.raises(ProtocolError) as e:
            protocol.parse_command(bad)
        assert e.value.code == "bad_request" and words in e.value.message
    m = protocol.parse_command(MAPPINGS).value
    assert m["mappings"][1]["on"] == "press"
    assert "unsaved" not in m["mappings"][0]
    learned = {"control": "box.k2", "does": "set", "target": "context.scene.a", "line": 0, "unsaved": "read-only"}
    m = protocol.parse_command(dict(MAPPINGS, mappings=[learned])).value
    assert m["mappings"][0]["unsaved"] == "read-only"
    with pytest.raises(ProtocolError, match="mappings\\[0\\].unsaved must be a string"):
        protocol.parse_command(dict(MAPPINGS, mappings=[dict(learned, unsaved=True)]))
    with pytest.raises(ProtocolError, match="mappings\\[0\\].target"):
        protocol.parse_command({"op": "mappings", "mappings": [{"control": "a", "does": "set"}]})
    with pytest.raises(ProtocolError, match="cannot be part of a batch"):
        protocol.parse_command({"op": "batch", "ops": [STATUS]})


def test_panel_state_values_errors_and_snapshot():
    p = status.PanelState()
    v0 = p.version
    p.on_mappings(3, "127.0.0.1:5000", protocol.parse_mappings(MAPPINGS))
    p.on_status(3, "127.0.0.1:5000", protocol.parse_status(STATUS))
    assert p.mapped_paths() == {'bpy.data.objects["Cube"].location[0]'}  # a call's target is no path
    p.set_values({'bpy.data.objects["Cube"].location[0]': 1.5})
    v1 = p.version
    p.set_values({'bpy.data.objects["Cube"].location[0]': 1.5})  # no change: no new version
    assert p.version == v1 > v0
    p.add_error("not_found: no x", 10.0)
    p.add_error("not_found: no x", 11.0)
    snap = p.snapshot()
    (b,) = snap["bridges"]
    assert b["client"] == 3 and b["status"]["devices"][0]["name"] == "box"
    assert b["mappings"][0]["value"] == 1.5 and b["mappings"][1]["value"] is None
    assert snap["errors"] == [{"text": "not_found: no x", "count": 2, "at": 11.0}]
    p.on_closed(3)
    assert p.snapshot()["bridges"] == []


def test_texts_for_the_narrow_sidebar():
    assert status.short_path('bpy.data.objects["Cube"].location[0]') == "Cube.location[0]"
    assert status.short_path("context.active_object.scale[2]") == "active_object.scale[2]"
    assert status.value_text(0.123456) == "0.123" and status.value_text([1.0, True]) == "(1.000, True)"
    assert status.age_text(100.0, 100.5) == "now" and status.age_text(0, 30) == "30 s ago"
    assert status.stage_text({}) == ""
    assert status.stage_text({"n": 4, "p50_us": 80, "p99_us": 410, "window_s": 5}) == \
        "p50 0.08 ms  p99 0.41 ms (n 4, last 5 s)"


def test_server_hands_status_and_mappings_to_the_panel_and_answers_them():
    p = status.PanelState()
    q = CommandQueue()
    s = server.Server(q, "127.0.0.1", 0, token=TOKEN, log=lambda m: None, panel=p)
    s.start()
    try:
        c = conftest.Client(s.port, token=TOKEN)
        assert c.hello["features"] == ["status"]  # the bridge sends status lines only then
        c.send(MAPPINGS, STATUS)
        assert c.request({**STATUS, "reloads": 2}) == {"id": c.next_id, "ok": True}
        snap = p.snapshot()
        assert snap["bridges"][0]["status"]["reloads"] == 2
        assert len(snap["bridges"][0]["mappings"]) == 2
        assert len(q) == 0  # never queued for the drain
        c.error({"op": "status", "devices": [{"state": "odd", "name": "x"}]}, "bad_request")
        c.close()
        end = time.monotonic() + 5
        while p.snapshot()["bridges"] and time.monotonic() < end:
            time.sleep(0.01)
        assert p.snapshot()["bridges"] == []  # a bridge that went away is no longer shown
    finally:
        s.stop()
