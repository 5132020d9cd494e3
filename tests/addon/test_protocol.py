"""The bpy-free modules without Blender: framing, parsing, paths (protocol.py),
coercion (values.py), coalescing and gestures (cmdqueue.py), and the socket
thread on a real socket (server.py)."""

import json
import socket
import threading
import time

import pytest

import conftest
from conftest import ROOT
from knoblink import cmdqueue, discovery, policy, protocol, server, sessions, values
from knoblink.cmdqueue import CommandQueue
from knoblink.protocol import LineFramer, ProtocolError, parse_command, parse_path

TOKEN = "t0ken-for-the-server-tests"


def Client(port, **kw):  # noqa: N802 (the conftest client, with this file's servers' token)
    return conftest.Client(port, **{"token": TOKEN, **kw})


# ---------------------------------------------------------------- framing

def test_framer_splits_lines_at_every_offset():
    data = b'{"a":1}\n{"b":2}\r\n\n{"c":3}\n'
    for cut in range(len(data) + 1):
        f = LineFramer()
        out = f.feed(data[:cut]) + f.feed(data[cut:])
        assert out == [b'{"a":1}', b'{"b":2}', b'{"c":3}'], cut
        assert f.pending == 0


def test_framer_oversize_line_reports_once_and_resumes_after_newline():
    f = LineFramer(max_line=10)
    out = f.feed(b"x" * 25) + f.feed(b"y" * 30) + f.feed(b"zz\nok\n")
    assert [type(o) for o in out] == [ProtocolError, bytes]
    assert out[0].code == "line_too_long" and out[1] == b"ok"
    out = f.feed(b"a" * 11 + b"\nb\n")
    assert out[0].code == "line_too_long" and out[1:] == [b"b"]
    assert f.feed(b"a" * 10 + b"\n") == [b"a" * 10]


def test_framer_keeps_partial_line():
    f = LineFramer()
    assert f.feed(b'{"op":"pi') == []
    assert f.pending == 9
    assert f.feed(b'ng"}\n') == [b'{"op":"ping"}']


# ---------------------------------------------------------------- paths

@pytest.mark.parametrize("text, root, prefix, prop, index, key", [
    ('bpy.data.objects["Cube"].location[0]', ("data", "objects", "Cube", None), "", "location", 0, None),
    ('bpy.data.scenes["Scene"].frame_current', ("data", "scenes", "Scene", None), "", "frame_current", None, None),
    ("context.active_object.rotation_euler[2]", ("context", "active_object"), "", "rotation_euler", 2, None),
    ("context.scene.render.fps", ("context", "scene"), "render", "fps", None, None),
    ("bpy.context.scene.frame_current", ("context", "scene"), "", "frame_current", None, None),
    ('bpy.data.materials["Mat"].node_tree.nodes["Principled BSDF"].inputs[0].default_value[1]',
     ("data", "materials", "Mat", None), 'node_tree.nodes["Principled BSDF"].inputs[0]', "default_value", 1, None),
    ('bpy.data.objects["Cube"]["knob"]', ("data", "objects", "Cube", None), "", None, None, "knob"),
    ('bpy.data.objects["Cube"].modifiers["GeometryNodes"]["Input_2"]',
     ("data", "objects", "Cube", None), 'modifiers["GeometryNodes"]', None, None, "Input_2"),
    ('bpy.data.objects["Say \\"hi\\""].location', ("data", "objects", 'Say "hi"', None), "", "location", None, None),
    ('bpy.data.objects["Cube", "lib.blend"].hide_viewport', ("data", "objects", "Cube", "lib.blend"), "",
     "hide_viewport", None, None),
    ("bpy.data.objects['Cube'].scale[1]", ("data", "objects", "Cube", None), "", "scale", 1, None),
])
def test_parse_path(text, root, prefix, prop, index, key):
    p = parse_path(text)
    assert (p.root, p.prefix, p.prop, p.index, p.key) == (root, prefix, prop, index, key)


@pytest.mark.parametrize("text, words", [
    ("context.active_object.__class__", "underscore"),
    ('bpy.data.objects["Cube"]._x', "underscore"),
    ('bpy.data.objects["_hidden"].location', "underscore"),
    ('bpy.data.objects["Cube"]["_RNA_UI"]', "underscore"),
    ("context.window.screen", "not allowed"),
    ("os.system", "must start with"),
    ("bpy.ops.wm.quit_blender", "must start with"),
    ('bpy.data.objects["Cube"].location(0)', "cannot parse"),
    ('bpy.data.objects["Cube"].location[-1]', "cannot parse"),
    ('bpy.data.objects["Cube"];import os', "cannot parse"),
    ('bpy.data.objects["Cube"]', "not a property"),
    ("bpy.data.objects.Cube.location", "must start with"),
    ('bpy.data.objects["Cube"].modifiers[0][1]', "index that does not follow"),
    ('bpy.data.objects["Cube"].data["x", "lib"]', "library name"),
])
def test_parse_path_rejects(text, words):
    with pytest.raises(ProtocolError) as e:
        parse_path(text)
    assert e.value.code == "bad_path" and words in e.value.message


def test_rna_path_round_trips_keys():
    segs = (("attr", "nodes"), ("key", 'a "b" \\c'), ("attr", "inputs"), ("index", 3))
    assert protocol.rna_path(segs) == 'nodes["a \\"b\\" \\\\c"].inputs[3]'
    text = 'bpy.data.objects["Cube"].' + protocol.rna_path(segs) + ".default_value"
    assert parse_path(text).segments[:-1] == segs


# ---------------------------------------------------------------- commands

def cmd(obj):
    return parse_command(obj)


def test_parse_commands():
    c = cmd({"op": "set", "path": "context.scene.frame_current", "value": 3, "id": 7})
    assert (c.op, c.id, c.value, c.path.prop) == ("set", 7, 3, "frame_current")
    c = cmd({"op": "call", "operator": "screen.frame_jump", "args": {"end": True}})
    assert (c.operator, c.args, c.id) == ("screen.frame_jump", {"end": True}, None)
    c = cmd({"op": "batch", "id": "b", "ops": [{"op": "toggle", "path": "context.object.hide_render"},
                                              {"op": "ping", "id": 2}]})
    assert [s.op for s in c.ops] == ["toggle", "ping"] and c.ops[1].id == 2
    # A selection path is a target of every write op (the add-on fans out).
    for op in ("set", "add", "toggle", "keyframe"):
        c = cmd({"op": op, "path": "context.selected_objects[*].location[0]", "value": 1})
        assert c.path.fan_out and c.path.root == ("each", "selected_objects") and c.path.prefix == ""
    assert not cmd({"op": "set", "path": "context.active_object.location[0]", "value": 1}).path.fan_out
    c = cmd({"op": "record", "on": True, "id": 3})
    assert (c.op, c.value, c.path, c.id) == ("record", True, None, 3)
    assert cmd({"op": "batch", "ops": [{"op": "record", "on": False}]}).ops[0].value is False


@pytest.mark.parametrize("obj, code, words", [
    ({"path": "context.scene.frame_current"}, "bad_request", "missing \"op\""),
    ({"op": "spin"}, "unknown_op", "spin"),
    ({"op": "set", "path": "context.scene.frame_current"}, "bad_request", "needs a \"value\""),
    ({"op": "set", "value": 1}, "bad_request", "needs a \"path\""),
    ({"op": "add", "path": "context.scene.frame_current", "value": "1"}, "bad_request", "number"),
    ({"op": "add", "path": "context.scene.frame_current", "value": True}, "bad_request", "number"),
    ({"op": "set", "path": "context.scene.frame_current", "value": {"a": 1}}, "bad_request", "value must"),
    ({"op": "set", "path": 5, "value": 1}, "bad_request", "string"),
    ({"op": "set", "path": ["a"], "value": 1}, "bad_request", "string"),
    ({"op": "watch", "path": {"a": 1}}, "bad_request", "string"),
    ({"op": "set", "path": "context.scene.frame_current", "value": 1, "id": [1]}, "bad_request", "id"),
    ({"op": "call", "operator": "bpy.ops.x"}, "bad_request", "operator"),
    ({"op": "call", "operator": "screen.frame_jump", "args": {"__x": 1}}, "bad_request", "argument"),
    ({"op": "record"}, "bad_request", 'record needs "on": true or false, got null'),
    ({"op": "record", "on": 1}, "bad_request", "got 1"),
    ({"op": "batch", "ops": []}, "bad_request", "ops"),
    ({"op": "batch", "ops": [{"op": "batch", "ops": [{"op": "ping"}]}]}, "bad_request", "ops[0]"),
    ({"op": "batch", "ops": [{"op": "ping"}, {"op": "set", "path": "context._x", "value": 1}]},
     "bad_path", "ops[1]"),
    # A watch reports one value: a selection path has one per element.
    ({"op": "watch", "path": "context.selected_objects[*].location[0]"}, "bad_path",
     "watch follows one value, and 'context.selected_objects[*].location[0]' fans out over the selection"),
    ({"op": "unwatch", "path": "context.selected_pose_bones[*].location"}, "bad_path", "fans out"),
    ({"op": "batch", "ops": [{"op": "watch", "path": "context.selected_objects[*].hide_render"}]},
     "bad_path", "ops[0]: watch follows one value"),
])
def test_parse_command_errors(obj, code, words):
    with pytest.raises(ProtocolError) as e:
        cmd(obj)
    assert e.value.code == code and words in e.value.message, e.value.message


def test_decode_line():
    assert protocol.decode_line(b'{"op":"ping"}') == {"op": "ping"}
    for bad in (b"not json", b"[1,2]", b'{"value":NaN}', b'{"value":Infinity}', b"\xff\xfe{}"):
        with pytest.raises(ProtocolError) as e:
            protocol.decode_line(bad)
        assert e.value.code == "bad_json"


def test_hello_and_token():
    assert protocol.check_hello({"hello": 1, "client": "knoblink/0.1", "token": "s3cret"}, "s3cret") is None
    assert protocol.check_hello({"op": "ping"}, "s3cret").code == "hello_required"
    assert protocol.check_hello({"hello": 2}, "s3cret").code == "bad_version"
    assert protocol.check_hello({"hello": 1}, "s3cret").code == "bad_token"
    assert protocol.check_hello({"hello": 1, "token": ""}, "s3cret").code == "bad_token"
    assert protocol.check_hello({"hello": 1, "token": "nope"}, "s3cret").code == "bad_token"
    assert protocol.check_hello({"hello": 1, "token": 5}, "s3cret").code == "bad_token"
    assert protocol.check_hello({"hello": 1, "token": ""}, "").code == "bad_token"  # no token: nobody
    assert protocol.check_hello({"hello": 1, "token": "s3cret", "session": "S1"}, "s3cret") is None
    for bad in ("", 5, "x" * 129, ["S"]):
        err = protocol.check_hello({"hello": 1, "token": "s3cret", "session": bad}, "s3cret")
        assert err.code == "bad_request" and "session" in err.message, bad


# ---------------------------------------------------------------- values

def test_coercion():
    assert values.coerce(2.5, "INT", "p") == 3 and values.coerce(-2.5, "INT", "p") == -3
    assert values.coerce(2.49, "INT", "p") == 2
    assert values.coerce(0.2, "BOOLEAN", "p") is True and values.coerce(0, "BOOLEAN", "p") is False
    assert values.coerce(True, "FLOAT", "p") == 1.0
    assert values.coerce_target([1, 2, 3.5], "INT", 3, "p") == [1, 2, 4]
    for value, kind, length in (("x", "FLOAT", 0), (1, "ENUM", 0), ([1, 2], "FLOAT", 3),
                                ([1, 2, 3], "FLOAT", 0), (1.0, "FLOAT", 3), (1, "POINTER", 0)):
        with pytest.raises(ProtocolError) as e:
            values.coerce_target(value, kind, length, "p")
        assert e.value.code == "wrong_type"
    with pytest.raises(ProtocolError) as e:
        values.check_range(11, 0, 10, "context.scene.x")
    assert e.value.code == "out_of_range" and "[0, 10]" in e.value.message
    values.check_range([0, 10], 0, 10, "p")
    assert values.json_value((1.0, float("nan"), 2)) == [1.0, None, 2]


# ---------------------------------------------------------------- queue

def drain(q):
    out = []
    while (e := q.pop()) is not None:
        out.append((e.cmd.op, e.cmd.path.text if e.cmd.path else e.cmd.operator, e.value,
                    [cid for _, cid in e.replies]))
    return out


A, B = "context.scene.frame_current", 'bpy.data.objects["Cube"].location[0]'


def push(q, **obj):
    q.push(cmd(obj), "conn")


def test_queue_set_keeps_newest_in_place():
    q = CommandQueue()
    push(q, op="set", path=A, value=1, id=1)
    push(q, op="set", path=B, value=5)
    push(q, op="set", path=A, value=2, id=2)
    push(q, op="set", path=A, value=3, id=3)
    assert drain(q) == [("set", A, 3, [1, 2, 3]), ("set", B, 5, [None])]


def test_queue_sums_adds_and_set_supersedes_add():
    q = CommandQueue()
    for i in range(10):
        push(q, op="add", path=A, value=0.5)
    assert drain(q) == [("add", A, 5.0, [None] * 10)]
    push(q, op="add", path=A, value=1)
    push(q, op="set", path=A, value=7)
    push(q, op="add", path=A, value=2)
    push(q, op="add", path=A, value=2)
    assert drain(q) == [("set", A, 7, [None, None]), ("add", A, 4, [None, None])]


def test_queue_never_moves_a_set_across_a_discrete_command():
    q = CommandQueue()
    push(q, op="set", path=B, value=3, id=1)
    push(q, op="keyframe", path=B, id=2)
    push(q, op="set", path=B, value=9, id=3)
    push(q, op="set", path=B, value=10, id=4)
    push(q, op="toggle", path=A)
    push(q, op="toggle", path=A)
    assert drain(q) == [("set", B, 3, [1]), ("keyframe", B, None, [2]), ("set", B, 10, [3, 4]),
                        ("toggle", A, None, [None]), ("toggle", A, None, [None])]


def test_queue_call_is_a_barrier_for_every_path():
    q = CommandQueue()
    push(q, op="set", path=A, value=1)
    push(q, op="call", operator="ed.undo")
    push(q, op="set", path=A, value=2)
    push(q, op="call", operator="ed.undo")
    assert [e[0] for e in drain(q)] == ["set", "call", "set", "call"]


@pytest.mark.parametrize("barrier", [
    {"op": "toggle", "path": "context.scene.render.use_border"},
    {"op": "keyframe", "path": "context.object.location"},
    {"op": "watch", "path": "context.object.location"},
    {"op": "unwatch", "path": "context.object.location"},
    {"op": "batch", "ops": [{"op": "ping"}]},
])
def test_queue_every_discrete_command_is_a_barrier_for_every_path(barrier):
    q = CommandQueue()
    push(q, op="set", path=A, value=1)
    push(q, op="add", path=B, value=1)
    push(q, **barrier)
    push(q, op="set", path=A, value=2)
    push(q, op="add", path=B, value=1)
    assert [(e[0], e[2]) for e in drain(q)] == [("set", 1), ("add", 1), (barrier["op"], None),
                                                ("set", 2), ("add", 1)]


def test_queue_popped_entry_no_longer_merges():
    q = CommandQueue()
    push(q, op="set", path=A, value=1)
    first = q.pop()
    push(q, op="set", path=A, value=2)
    assert first.value == 1 and drain(q) == [("set", A, 2, [None])]


def test_gesture_tracker():
    g = cmdqueue.GestureTracker(rest=0.3)
    g.touch(A, 0.0)
    g.touch(A, 0.2)
    g.touch(B, 0.1)
    assert g.due(0.45) == [B]
    assert g.due(0.49) == []
    assert g.due(0.5) == [A]
    g.touch(A, 1.0)
    g.end(A)
    assert g.due(1.0) == [A] and g.pending() == 0


# ---------------------------------------------------------------- the server thread, real sockets

@pytest.fixture
def srv():
    q = CommandQueue(capacity=1000)
    s = server.Server(q, "127.0.0.1", 0, token=TOKEN, max_clients=3, hello_info={"blender": "test"},
                      log=lambda m: None)
    s.start()
    yield s
    t = time.monotonic()
    s.stop()
    assert time.monotonic() - t < 1.0


def test_server_hello_ping_and_queueing(srv):
    c = Client(srv.port)
    assert c.hello == {"hello": 1, "server": f"knoblink-addon/{protocol.VERSION}", "blender": "test",
                       "features": ["status"]}
    assert c.request({"op": "ping"}) == {"id": c.next_id, "ok": True}
    c.send({"op": "ping"})
    assert c.wait(lambda m: "ok" in m) == {"ok": True}
    c.send({"op": "set", "path": A, "value": 4, "id": 1})
    end = time.monotonic() + 5
    while not len(srv.queue) and time.monotonic() < end:
        time.sleep(0.01)
    e = srv.queue.pop()
    assert (e.cmd.op, e.value, e.replies[0][1]) == ("set", 4, 1)
    srv.post(e.replies[0][0], {"id": 1, "ok": True})
    assert c.reply(1) == {"id": 1, "ok": True}


def test_server_greeting_follows_the_hello_and_broadcast_skips_clients_before_theirs():
    state = {"on": False}
    s = server.Server(CommandQueue(), "127.0.0.1", 0, token=TOKEN, log=lambda m: None,
                      greeting=lambda: [{"ev": "record", "on": True}] if state["on"] else [])
    s.start()
    try:
        quiet = Client(s.port, name="quiet")
        assert quiet.hello["hello"] == 1
        state["on"] = True
        told = Client(s.port, name="told")
        assert told.wait(lambda m: "ev" in m, 5) == {"ev": "record", "on": True}
        assert told.msgs == []
        pending = Client(s.port, hello=False, name="no hello yet")
        end = time.monotonic() + 5
        while len(s.clients) < 3 and time.monotonic() < end:
            time.sleep(0.01)
        state["on"] = False  # as the recorder does: the state first, then the broadcast
        s.broadcast({"ev": "record", "on": False})
        for cl in (quiet, told):
            assert cl.wait(lambda m: "ev" in m, 5) == {"ev": "record", "on": False}
        pending.send({"hello": 1, "client": "knoblink/late", "token": TOKEN})
        assert "hello" in pending.wait(lambda m: True, 5)
        pending.send({"op": "ping", "id": 1})
        assert pending.reply(1) == {"id": 1, "ok": True}
        assert pending.msgs == [], pending.msgs  # before its hello: not broadcast to, no greeting (now off)
    finally:
        s.stop()


def test_server_post_from_other_threads_wakes_the_loop_at_once(srv):
    c = Client(srv.port)
    conn = srv.clients[0]
    late = []
    for i in range(40):  # each post from an idle loop: sent at once, not at the 0.1 s select timeout
        t = time.monotonic()
        threading.Thread(target=srv.post, args=(conn, {"ev": "t", "i": i})).start()
        c.wait(lambda m, i=i: m.get("i") == i, timeout=2)
        late += [i] if time.monotonic() - t > 0.05 else []
        time.sleep(0.005)
    assert len(late) <= 2, late  # a loaded machine may delay one or two
    posters = [threading.Thread(target=lambda k=k: [srv.post(conn, {"k": k, "n": n}) for n in range(200)])
               for k in range(4)]
    for th in posters:
        th.start()
    for th in posters:
        th.join()
    for k in range(4):
        for n in range(200):
            c.wait(lambda m, k=k, n=n: m.get("k") == k and m.get("n") == n, timeout=5)


def test_server_errors_keep_the_connection(srv):
    c = Client(srv.port)
    c.send_raw(b"not json\n")
    assert c.wait(lambda m: "error" in m)["error"] == "bad_json"
    c.error({"op": "nope"}, "unknown_op")
    c.send_raw(b"x" * (protocol.MAX_LINE + 10) + b"\n")
    r = c.wait(lambda m: "error" in m)
    assert r["error"] == "line_too_long" and "id" not in r
    c.error({"op": "set", "path": "context.active_object.__class__", "value": 1}, "bad_path")
    assert c.request({"op": "ping"})["ok"] is True


def test_server_hello_required_and_closes(srv):
    c = Client(srv.port, hello=False)
    c.send({"op": "ping"})
    assert c.wait(lambda m: "error" in m)["error"] == "hello_required"
    c._pump(2)
    assert c.closed


def test_server_client_cap(srv):
    clients = [Client(srv.port, name=f"c{i}") for i in range(3)]
    extra = Client(srv.port, hello=False)
    assert extra.wait(lambda m: "error" in m)["error"] == "too_many_clients"
    clients[0].close()
    time.sleep(0.3)
    assert Client(srv.port).hello["hello"] == 1


def test_server_stalled_half_line_does_not_block_others(srv):
    stalled = Client(srv.port, name="stalled")
    stalled.send_raw(b'{"op":"pi')
    other = Client(srv.port, name="other")
    assert other.request({"op": "ping"})["ok"] is True
    stalled.send_raw(b'ng","id":5}\n')
    assert stalled.reply(5) == {"id": 5, "ok": True}


def test_server_stalled_half_line_times_out_with_an_error(srv):
    srv.line_timeout = 0.3
    stalled = Client(srv.port, name="stalled")
    stalled.send_raw(b'{"op":"set","path":"context.scene.frame_cur')
    err = stalled.wait(lambda m: "error" in m)
    assert err["error"] == "incomplete_line"
    assert "43 bytes without a newline" in err["message"]
    # The partial line is gone and the connection still works.
    stalled.send_raw(b'{"op":"ping","id":9}\n')
    assert stalled.reply(9) == {"id": 9, "ok": True}


def test_server_token_required_on_loopback_too():
    with pytest.raises(ValueError, match="token is required"):
        server.Server(CommandQueue(), "127.0.0.1", 0)
    s = server.Server(CommandQueue(), "127.0.0.1", 0, token="s3cret", log=lambda m: None)
    s.start()
    try:
        for token in ("wrong", ""):
            bad = Client(s.port, token=token)
            assert bad.hello["error"] == "bad_token"
            assert bad.wait_closed()
        none = Client(s.port, hello=False)
        none.send({"hello": 1, "client": "knoblink/none"})
        assert none.wait(lambda m: "error" in m)["error"] == "bad_token" and none.wait_closed()
        assert Client(s.port, token="s3cret").hello["hello"] == 1
    finally:
        s.stop()


def test_server_takes_next_port_when_taken():
    blocker = socket.socket()
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    taken = blocker.getsockname()[1]
    logs = []
    s = server.Server(CommandQueue(), "127.0.0.1", taken, token=TOKEN, log=logs.append)
    try:
        s.start()
        assert taken < s.port <= taken + server.PORT_TRIES
        assert any(f"port {taken} is in use; listening on {s.port}" in m for m in logs)
    finally:
        s.stop()
        blocker.close()


def test_server_backpressure_when_queue_full():
    q = CommandQueue(capacity=5)
    s = server.Server(q, "127.0.0.1", 0, token=TOKEN, log=lambda m: None)
    s.start()
    try:
        c = Client(s.port)
        n = 3000
        c.send(*[{"op": "toggle", "path": A, "id": i} for i in range(n)])
        time.sleep(0.3)
        line = len(json.dumps({"op": "toggle", "path": A, "id": 0})) + 1
        # At most one read past the cap; the rest waits in the socket, nothing dropped.
        assert 5 <= len(q) <= 5 + server.RECV_SIZE // line < n
        got = []
        end = time.monotonic() + 10
        while len(got) < n and time.monotonic() < end:
            e = q.pop()
            if e is None:
                time.sleep(0.005)
                continue
            got.append(e.cmd.id)
        assert got == list(range(n))
    finally:
        s.stop()


def test_error_codes_documented():
    doc = (ROOT / "docs" / "protocol.md").read_text()
    for code in protocol.ERROR_CODES:
        assert f"`{code}`" in doc, f"error code {code} missing from docs/protocol.md"
    assert json.dumps(protocol.error_reply("x", "y", 3)) == '{"id": 3, "error": "x", "message": "y"}'


def test_versions_agree():
    import ast
    import tomllib
    manifest = tomllib.loads((ROOT / "addon" / "knoblink" / "blender_manifest.toml").read_text())
    assert manifest["id"] == "knoblink" and manifest["type"] == "add-on"
    assert manifest["version"] == protocol.VERSION
    tree = ast.parse((ROOT / "addon" / "knoblink" / "__init__.py").read_text())
    bl_info = next(ast.literal_eval(n.value) for n in tree.body
                   if isinstance(n, ast.Assign) and n.targets[0].id == "bl_info")
    assert ".".join(map(str, bl_info["version"])) == protocol.VERSION and bl_info["blender"] == (3, 4, 0)
    # project(knoblink VERSION x.y.z ...) is the bridge's version (knoblink/version.hpp).
    import re
    cmake = re.search(r"^\s*project\(\s*knoblink\s+VERSION\s+(\d+\.\d+\.\d+)\b",
                      (ROOT / "CMakeLists.txt").read_text(), re.MULTILINE | re.IGNORECASE)
    assert cmake, "no project(knoblink VERSION x.y.z ...) in CMakeLists.txt"
    assert (cmake[1] == protocol.VERSION == manifest["version"]
            == ".".join(map(str, bl_info["version"]))), (cmake[1], protocol.VERSION)


def test_no_eval_or_exec_in_the_addon():
    for f in (ROOT / "addon").rglob("*.py"):
        text = f.read_text()
        assert "eval(" not in text and "exec(" not in text, f


# ---------------------------------------------------------------- what the wire may write (policy.py)

def test_policy_struct_rules():
    assert policy.struct_refusal(("Object", "ID")) is None
    assert policy.struct_refusal(("Text", "ID")).rule == "text"
    assert policy.struct_refusal(("ShaderNodeScript", "ShaderNode", "NodeInternal", "Node")).rule == "script_nodes"
    assert policy.struct_refusal(("PreferencesFilePaths",)).rule == "preferences"
    assert policy.struct_refusal(("KNOBLINK_AP_preferences", "AddonPreferences")).rule == "preferences"
    assert policy.struct_refusal(("DriverVariable",)).rule == "drivers"
    # A node found by RNA to hold a script or a file path, whatever its name.
    assert policy.struct_refusal(("SomeNewNode", "Node"), holds_script_or_file=True).rule == "script_nodes"
    assert policy.struct_refusal(("Camera", "ID"), holds_script_or_file=True) is None


def test_policy_property_and_value_rules():
    assert policy.property_refusal(("AnimData",), "drivers").rule == "drivers"
    assert policy.property_refusal(("Object", "ID"), "library").rule == "libraries"  # through a base type
    assert policy.property_refusal(("Object", "ID"), "location") is None
    assert policy.target_refusal(("RenderSettings",), "filepath", "STRING", "FILE_PATH").rule == "file_paths"
    assert policy.target_refusal(("Object", "ID"), "name", "STRING", "NONE").rule == "strings"
    assert policy.target_refusal(("FreestyleSettings",), "mode", "ENUM", "NONE").rule == "freestyle_scripts"
    for kind in ("FLOAT", "INT", "BOOLEAN", "ENUM"):
        assert policy.target_refusal(("RenderSettings",), "engine", kind, "NONE") is None
    msg = policy.property_refusal(("AnimData",), "drivers").message('bpy.data.objects["Cube"].x')
    assert msg == ('drivers run Python expressions: not writable over the wire '
                   '(AnimData.drivers; in bpy.data.objects["Cube"].x)')
    assert set(policy.STRUCTS.values()) | set(policy.PROPERTIES.values()) <= set(policy.RULES)


def test_policy_operators_and_arguments():
    assert policy.operator_refusal("screen.frame_jump") is None
    assert policy.operator_refusal("text.run_script").rule == "text"
    assert policy.operator_refusal("script.python_file_run").rule == "text"
    assert policy.operator_refusal("preferences.addon_enable").rule == "preferences"
    assert policy.operator_refusal("wm.keyconfig_import").rule == "keymaps"
    assert policy.argument_refusal("screen.frame_jump", "end", "BOOLEAN") is None
    assert policy.argument_refusal("wm.open_mainfile", "filepath", "STRING", "FILE_PATH").rule == "file_paths"
    assert policy.argument_refusal("x.y", "name", "STRING", "NONE").rule == "strings"
    assert policy.argument_refusal("x.y", "files", "COLLECTION", "NONE") is not None


def test_path_steps_name_every_struct_on_the_way():
    p = parse_path('bpy.data.objects["Cube"].animation_data.drivers[0].driver.expression')
    assert p.steps == (("animation_data", "animation_data"), ("drivers", "drivers[0]"), ("driver", "driver"))
    p = parse_path('bpy.data.materials["M"].node_tree.nodes["Script"].inputs[0].default_value')
    assert p.steps == (("node_tree", "node_tree"), ("nodes", 'nodes["Script"]'), ("inputs", "inputs[0]"))
    assert parse_path("context.scene.frame_current").steps == ()


# ---------------------------------------------------------------- who may connect (discovery.py)

def test_discovery_paths():
    assert discovery.run_dir({"XDG_RUNTIME_DIR": "/run/user/7", "HOME": "/h"}) == "/run/user/7"
    assert discovery.run_dir({"XDG_RUNTIME_DIR": "", "HOME": "/h"}) == "/h/.cache"
    assert discovery.run_dir({"HOME": "/h"}) == "/h/.cache"
    assert discovery.path_for(9876, {"HOME": "/h"}) == "/h/.cache/knoblink/blender-9876.json"
    assert len(discovery.new_token()) == 32 and discovery.new_token() != discovery.new_token()


def test_discovery_file_is_private_atomic_and_removed(tmp_path):
    import os
    import stat
    env = {"XDG_RUNTIME_DIR": str(tmp_path / "run")}
    path = discovery.path_for(9876, env)
    text = discovery.content(9876, "tok", 42, "3.4.1", "/a/b.blend", 1.5)
    assert text == '{"port":9876,"token":"tok","pid":42,"blender":"3.4.1","file":"/a/b.blend","started":1.5}\n'
    old = os.umask(0)  # the modes do not depend on the umask
    try:
        discovery.write(path, text)
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700
    assert discovery.read(path)["file"] == "/a/b.blend"
    os.chmod(os.path.dirname(path), 0o755)  # loosened by someone: tightened again on the next write
    discovery.write(path, discovery.content(9876, "tok", 42, "3.4.1", "", 1.5))
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700
    assert os.listdir(os.path.dirname(path)) == ["blender-9876.json"]  # no temp file left
    assert not discovery.remove(path, "another Blender's token") and os.path.exists(path)
    assert discovery.remove(path, "tok") and not os.path.exists(path)
    link = tmp_path / "run" / "elsewhere"
    link.symlink_to(tmp_path)
    with pytest.raises(OSError, match="not a folder"):  # a symlinked folder is not written through
        discovery.write(str(link / "blender-1.json"), text)


def test_discovery_removes_files_of_blenders_that_are_gone(tmp_path):
    import os
    for port, pid in ((1, 111), (2, os.getpid()), (3, 333)):
        discovery.write(str(tmp_path / f"blender-{port}.json"),
                        discovery.content(port, "t", pid, "3.4.1", "", 1.0))
    (tmp_path / "notes.json").write_text('{"pid": 111}')
    gone = discovery.remove_stale(str(tmp_path), alive=lambda pid: pid == os.getpid())
    assert sorted(gone) == [str(tmp_path / "blender-1.json"), str(tmp_path / "blender-3.json")]
    assert sorted(os.listdir(tmp_path)) == ["blender-2.json", "notes.json"]
    assert discovery.pid_alive(os.getpid()) and discovery.remove_stale(str(tmp_path / "none")) == []


# ---------------------------------------------------------------- exactly once (sessions.py)

def test_applied_ids_answer_a_repeat_with_the_first_outcome():
    ids = sessions.AppliedIds()
    assert ids.claim("S", 5, "conn1", 0.0) == (sessions.NEW, None)
    assert ids.claim("S", 5, "conn2", 0.1) == (sessions.PENDING, None)  # still queued
    assert ids.finish("S", 5, [{"id": 5, "ok": True}], 0.2) == ["conn2"]
    assert ids.claim("S", 5, "conn3", 0.3) == (sessions.DONE, [{"id": 5, "ok": True}])
    assert ids.claim("T", 5, "conn3", 0.3) == (sessions.NEW, None)  # another session
    assert ids.claim("S", "5", "conn3", 0.3) == (sessions.NEW, None)  # another id
    assert ids.finish("S", 99, [], 0.4) == []  # never claimed: ignored
    assert ids.repeats == 2
    assert ids.claim("S", 6, "conn1", 0.5) == (sessions.NEW, None)
    ids.drop("S", 6)  # discarded unapplied (the link stopped): a re-send is applied
    ids.drop("S", 5)  # finished ids stay
    assert ids.claim("S", 6, "conn2", 0.6) == (sessions.NEW, None)
    assert ids.claim("S", 5, "conn2", 0.6)[0] == sessions.DONE


def test_applied_ids_memory_is_bounded():
    ids = sessions.AppliedIds(keep=4096, keep_s=600.0, cap=16384, max_sessions=16)
    for i in range(20000):
        ids.claim("S", i, None, i * 0.001)
        ids.finish("S", i, [], i * 0.001)
    assert len(ids) == 16384  # all younger than 10 minutes, but never more than the cap
    for i in range(20000, 20010):
        ids.claim("S", i, None, 1000.0)
        ids.finish("S", i, [], 1000.0)
    assert len(ids) == 4096  # older than 10 minutes: only the last 4,096 stay
    assert ids.claim("S", 20009 - 4095, None, 1000.0)[0] == sessions.DONE
    assert ids.claim("S", 20009 - 4096, None, 1000.0)[0] == sessions.NEW
    for k in range(20):
        ids.claim(f"s{k}", 1, None, 0.0)
    assert ids.claim("S", 20009, None, 1000.0)[0] == sessions.NEW  # least recently used session forgotten


def test_server_answers_a_repeated_id_without_queueing_it(srv):
    first = Client(srv.port, session="S", name="first")
    assert first.hello["session"] == "S"
    first.send({"op": "add", "path": A, "value": 1, "id": 5})
    end = time.monotonic() + 5
    while not len(srv.queue) and time.monotonic() < end:
        time.sleep(0.01)
    e = srv.queue.pop()
    again = Client(srv.port, session="S", name="again")  # re-sent while it is being applied
    again.send({"op": "add", "path": A, "value": 1, "id": 5})
    time.sleep(0.2)
    assert srv.queue.pop() is None
    reply = {"id": 5, "ok": True}
    srv.post(e.replies[0][0], reply)  # what link.py does once applied
    for waiter in srv.applied.finish("S", 5, [reply], 1.0):
        srv.post(waiter, reply)
    assert first.reply(5) == reply and again.reply(5) == reply
    first.close()
    again.close()
    time.sleep(0.2)  # the fixture's server takes 3 clients
    late = Client(srv.port, session="S", name="late")  # after it was applied
    late.send({"op": "add", "path": A, "value": 1, "id": 5}, {"op": "watch", "path": A, "id": 5})
    assert late.reply(5) == reply
    time.sleep(0.2)
    assert srv.queue.pop().cmd.op == "watch"  # a watch belongs to its connection: never deduplicated
    plain = Client(srv.port, name="no session")
    plain.send({"op": "add", "path": A, "value": 1, "id": 5})
    time.sleep(0.2)
    assert srv.queue.pop().cmd.op == "add"
