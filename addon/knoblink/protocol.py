"""Contract 2's wire format without Blender: line framing, JSON decoding,
commands, the hello, error codes, and the data-path and operator-name
grammar (shared with the bridge through tests/data/contract2/).

Nothing here imports bpy or reads a clock. Value coercion is in values.py,
the coalescing queue and undo gestures in cmdqueue.py.
"""

import hmac
import json
import re

VERSION = "0.1.0"
PROTOCOL = 1
MAX_LINE = 64 * 1024
MAX_SESSION = 128  # characters of the hello's session

# Every error the add-on answers, {"id":N,"error":CODE,"message":"..."}.
ERROR_CODES = {
    "bad_json": "the line is not UTF-8 JSON object text",
    "bad_request": "a field is missing or has the wrong JSON type",
    "unknown_op": "the op is not one of Contract 2's ops",
    "line_too_long": "the line exceeds 64 KiB; it is discarded up to its newline",
    "incomplete_line": "the client stopped in the middle of a line; the partial line is discarded",
    "hello_required": "the first line was not a hello (the connection closes)",
    "bad_version": "the hello names a protocol version this add-on does not speak (closes)",
    "bad_token": "the hello token is missing or wrong (the connection closes)",
    "too_many_clients": "the client cap is reached (the connection closes)",
    "bad_path": "the data path is malformed, has an underscore segment or a root not allowed",
    "not_found": "the data path does not resolve in the current file",
    "wrong_type": "the value or op does not fit the target property's type",
    "out_of_range": "the value is outside the property's hard range",
    "read_only": "the property cannot be written",
    "bad_value": "Blender refused the value (its message is passed on)",
    "not_allowed": "a write or call the wire may not make (docs/security.md names the rules), "
                   "or an operator not on the allow-list",
    "operator_failed": "the operator does not exist, its poll failed, or it was cancelled",
    "keyframe_failed": "Blender could not insert the keyframe",
    "internal": "an unexpected error in the add-on (a bug; the message says where)",
}

# The bridge's answers to the add-on's learn and forget events (docs/protocol.md, "Learn and forget").
ANSWER_OPS = ("learned", "learn_failed", "forgot", "forget_failed")
OPS = ("set", "add", "toggle", "keyframe", "call", "watch", "unwatch", "ping", "batch", "record", "status",
       "mappings") + ANSWER_OPS
PATH_OPS = ("set", "add", "toggle", "keyframe", "watch", "unwatch")
# From a bridge, for the panel (docs/protocol.md, "Status"): answered by the socket thread,
# never queued, never touch bpy. The hello answer lists FEATURES so a bridge sends them
# only to an add-on that takes them.
INFO_OPS = ("status", "mappings")
FEATURES = ("status",)
DEVICE_STATES = ("open", "lost", "retrying", "failed")
MAX_TEXT = 500       # characters of one text shown in the panel
MAX_ITEMS = 256      # devices, layers, errors of one status
MAX_MAPPINGS = 4096
CONTEXT_ROOTS = (
    "scene", "view_layer", "active_object", "object", "active_bone",
    "active_pose_bone", "tool_settings", "window_manager",
)
# Context lists a path fans out over with [*] (docs/protocol.md, "Selections"): each
# element is written (resolved and checked by policy.py) like a single target.
SELECTION_ROOTS = ("selected_objects", "selected_pose_bones")
DEFAULT_OPERATORS = (
    "screen.animation_play", "screen.animation_cancel", "screen.frame_jump",
    "screen.frame_offset", "screen.keyframe_jump", "screen.marker_jump",
    "ed.undo", "ed.redo", "anim.keyframe_insert", "anim.keyframe_delete",
)


class ProtocolError(Exception):
    """A request the add-on refuses: an error code from ERROR_CODES and a message."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


def error_reply(code, message, cid=None):
    """The error object sent back; without an id when the request had none."""
    out = {"error": code, "message": message}
    if cid is not None:
        out = {"id": cid, **out}
    return out


def encode(obj):
    """One NDJSON line (bytes) for a reply object."""
    return (json.dumps(obj, separators=(",", ":"), ensure_ascii=False) + "\n").encode()


class LineFramer:
    """Byte-fed NDJSON framer. feed() returns complete lines (bytes, without
    the newline) and, for a line over the cap, one ProtocolError; the rest of
    that line is discarded up to its newline. Partial lines wait for more bytes."""

    def __init__(self, max_line=MAX_LINE):
        self._buf = bytearray()
        self._max = max_line
        self._discarding = False

    @property
    def pending(self):
        """Bytes of an unfinished line held back."""
        return len(self._buf)

    def feed(self, data):
        out = []
        buf = self._buf
        buf += data
        start = 0
        while True:
            nl = buf.find(b"\n", start)
            if nl < 0:
                break
            if self._discarding:
                self._discarding = False
            elif nl - start > self._max:
                out.append(self._too_long(nl - start))
            else:
                line = bytes(buf[start:nl]).rstrip(b"\r")
                if line.strip():
                    out.append(line)
            start = nl + 1
        del buf[:start]
        if len(buf) > self._max:
            if not self._discarding:
                out.append(self._too_long(len(buf)))
                self._discarding = True
            buf.clear()
        return out

    def drop_partial(self):
        """Forgets an unfinished line (a client stalled in the middle of it); returns its size."""
        n = len(self._buf)
        self._buf.clear()
        return n

    def _too_long(self, n):
        return ProtocolError("line_too_long",
                             f"line longer than {self._max} bytes ({n}+ bytes); discarded up to its newline")


# ---------------------------------------------------------------- data paths

class ParsedPath:
    """A data path split into its root and the RNA segments after it.

    root is ("data", collection, name, library), ("context", attr), or
    ("each", attr) for context.<attr>[*] with attr in SELECTION_ROOTS: the
    path fans out over that list (fan_out), the rest applies to each element.
    segments are ("attr", name) / ("index", int) / ("key", str).
    The target is the last one or two segments: prop (+ index) or a custom
    property key; prefix is the RNA path (for path_resolve) of the struct
    that owns it, "" for the root itself. steps split prefix into one RNA
    path per struct on the way, (attribute or None, RNA path): `nodes["X"]`
    is one step, so a write can be checked at every struct it passes."""

    __slots__ = ("text", "root", "segments", "prefix", "steps", "prop", "index", "key")

    @property
    def fan_out(self):
        """Whether the path names every element of a selection (context.selected_objects[*]...)."""
        return self.root[0] == "each"

    def __repr__(self):
        return f"ParsedPath({self.text!r})"


_TOKEN = re.compile(
    r"""\.(?P<attr>[A-Za-z_][A-Za-z0-9_]*)
      | \[(?P<index>\d+)\]
      | \[(?P<each>\*)\]
      | \[\s*"(?P<dq>(?:[^"\\]|\\.)*)"\s*(?:,\s*(?:"(?P<lib>(?:[^"\\]|\\.)*)"|None)\s*)?\]
      | \[\s*'(?P<sq>(?:[^'\\]|\\.)*)'\s*\]""",
    re.VERBOSE | re.ASCII)
_UNESCAPE = re.compile(r"\\(.)")
_ROOT = re.compile(r"(?:bpy\.)?(?P<ctx>context)\b|bpy\.(?P<data>data)\b", re.ASCII)
_PATH_CACHE = {}
_PATH_CACHE_MAX = 4096


def quote(s):
    """s as a double-quoted RNA key (backslash and quote escaped): the form
    path_resolve() and keyframe_insert() take inside [...]."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def rna_path(segments):
    """The RNA path text of segments, in the form path_resolve() accepts."""
    parts = []
    for kind, v in segments:
        if kind == "attr":
            parts.append(("." if parts else "") + v)
        elif kind == "index":
            parts.append(f"[{v}]")
        else:
            parts.append(f"[{quote(v)}]")
    return "".join(parts)


def _tokens(text, pos):
    """Yield (kind, value, lib, start) for the segments of text from pos."""
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise ProtocolError("bad_path", f"cannot parse {text[pos:]!r} at offset {pos} of {text!r}; "
                                "expected .name, [integer], [\"key\"] or [*]")
        if m.group("attr") is not None:
            yield "attr", m.group("attr"), None, pos
        elif m.group("index") is not None:
            yield "index", int(m.group("index")), None, pos
        elif m.group("each") is not None:
            yield "each", "*", None, pos
        else:
            raw = m.group("dq") if m.group("dq") is not None else m.group("sq")
            lib = m.group("lib")
            yield ("key", _UNESCAPE.sub(r"\1", raw),
                   None if lib is None else _UNESCAPE.sub(r"\1", lib), pos)
        pos = m.end()


def _steps(segments):
    """Group segments into (attribute or None, RNA path) steps: an attribute and the
    indices and keys after it (a leading index or key is a step of its own)."""
    groups = []
    for seg in segments:
        if seg[0] == "attr" or not groups:
            groups.append([seg])
        else:
            groups[-1].append(seg)
    return tuple((g[0][1] if g[0][0] == "attr" else None, rna_path(g)) for g in groups)


def parse_path(text):
    """Parse a Contract 2 data path; raises ProtocolError("bad_path") naming
    what is wrong. Results are cached (they are immutable)."""
    if not isinstance(text, str):  # before the cache: a list or dict is not hashable
        raise ProtocolError("bad_request", "path must be a string")
    hit = _PATH_CACHE.get(text)
    if hit is not None:
        return hit
    if len(text) > 1024:
        raise ProtocolError("bad_path", f"path is {len(text)} characters; at most 1024")
    m = _ROOT.match(text)
    if not m:
        raise ProtocolError("bad_path", f"path {text!r} must start with bpy.data.<collection>[\"name\"] "
                            f"or context.<{'|'.join(CONTEXT_ROOTS)}>")
    toks = list(_tokens(text, m.end()))
    for kind, v, _lib, pos in toks:
        if kind in ("attr", "key") and v.startswith("_"):
            raise ProtocolError("bad_path", f"segment {v!r} at offset {pos} of {text!r} starts with an "
                                "underscore; not allowed")
    for kind, v, lib, pos in toks[2:] if m.group("data") else toks[1:]:
        if lib is not None:
            raise ProtocolError("bad_path", f"a library name is only allowed right after bpy.data.<collection> "
                                f"(offset {pos} of {text!r})")
    for i, (kind, _v, _lib, pos) in enumerate(toks):
        if kind == "each" and not (i == 1 and m.group("ctx") and toks[0][0] == "attr"
                                   and toks[0][1] in SELECTION_ROOTS):
            raise ProtocolError("bad_path", f"[*] at offset {pos} of {text!r}: [*] is only allowed right after "
                                f"{' or '.join('context.' + r for r in SELECTION_ROOTS)}")
    if m.group("data"):
        if len(toks) < 2 or toks[0][0] != "attr" or toks[1][0] != "key":
            raise ProtocolError("bad_path", f"path {text!r} must start with bpy.data.<collection>[\"name\"]")
        root = ("data", toks[0][1], toks[1][1], toks[1][2])
        rest = toks[2:]
    elif toks and toks[0][0] == "attr" and toks[0][1] in SELECTION_ROOTS:
        if len(toks) < 2 or toks[1][0] != "each":
            raise ProtocolError("bad_path", f"context.{toks[0][1]} in {text!r} is a list: it needs [*] to fan out "
                                f"(context.{toks[0][1]}[*].<property>)")
        root = ("each", toks[0][1])
        rest = toks[2:]
    else:
        if not toks or toks[0][0] != "attr" or toks[0][1] not in CONTEXT_ROOTS:
            got = toks[0][1] if toks else ""
            raise ProtocolError("bad_path", f"context root {got!r} in {text!r} is not allowed; "
                                f"allowed: {', '.join(CONTEXT_ROOTS + tuple(r + '[*]' for r in SELECTION_ROOTS))}")
        root = ("context", toks[0][1])
        rest = toks[1:]
    segs = tuple((k, v) for k, v, _lib, _pos in rest)
    p = ParsedPath()
    p.text, p.root, p.segments = text, root, segs
    p.prop = p.index = p.key = None
    if not segs:
        raise ProtocolError("bad_path", f"path {text!r} names a data-block or struct, not a property")
    last = segs[-1]
    if last[0] == "attr":
        p.prop, own = last[1], segs[:-1]
    elif last[0] == "key":
        p.key, own = last[1], segs[:-1]
    elif len(segs) >= 2 and segs[-2][0] == "attr":
        p.prop, p.index, own = segs[-2][1], last[1], segs[:-2]
    else:
        raise ProtocolError("bad_path", f"path {text!r} ends in an index that does not follow a property name")
    p.prefix = rna_path(own)
    p.steps = _steps(own)
    if len(_PATH_CACHE) >= _PATH_CACHE_MAX:
        _PATH_CACHE.clear()
    _PATH_CACHE[text] = p
    return p


# ---------------------------------------------------------------- commands

class Command:
    """One validated request. path is a ParsedPath for PATH_OPS; value is the
    JSON value of set/add; ops the sub-commands of a batch."""

    __slots__ = ("op", "id", "path", "value", "operator", "args", "ops", "t")

    def __init__(self, op, cid=None, path=None, value=None, operator=None, args=None, ops=None):
        self.op, self.id, self.path, self.value = op, cid, path, value
        self.operator, self.args, self.ops = operator, args, ops
        self.t = 0.0  # when its line was received (time.perf_counter(), the socket thread sets it)

    def __repr__(self):
        return f"Command({self.op}, id={self.id}, path={self.path}, value={self.value!r})"


def _reject_constant(name):
    raise ProtocolError("bad_json", f"{name} is not a JSON number")


def decode_line(line):
    """bytes -> dict, or ProtocolError("bad_json")."""
    try:
        obj = json.loads(line.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError as e:
        raise ProtocolError("bad_json", f"line is not UTF-8: {e}") from None
    except ValueError as e:
        raise ProtocolError("bad_json", f"line is not JSON: {e}") from None
    except RecursionError:  # json's C decoder: [[[[... deeper than the interpreter's limit
        raise ProtocolError("bad_json", "line nests arrays or objects too deeply") from None
    if not isinstance(obj, dict):
        raise ProtocolError("bad_json", f"line is a JSON {type(obj).__name__}, expected an object")
    return obj


def request_id(obj):
    """The request's id if it has a usable one (int or string), else None."""
    cid = obj.get("id")
    if isinstance(cid, bool) or not isinstance(cid, (int, str)):
        return None
    return cid


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _check_value(v, where):
    if isinstance(v, (bool, int, float, str)):
        return
    if isinstance(v, list) and v and len(v) <= 64 and all(
            isinstance(x, (bool, int, float)) for x in v):
        return
    raise ProtocolError("bad_request", f"{where} must be a number, bool, string or a list of numbers; "
                        f"got {json.dumps(v)[:80]}")


_OPERATOR = re.compile(r"[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*")


def is_operator_name(name):
    """Whether name is an operator id as `call` takes it ("screen.animation_play");
    the allow-list in the preferences is checked later, when it is applied."""
    return isinstance(name, str) and _OPERATOR.fullmatch(name) is not None


def parse_command(obj, nested=False):
    """dict -> Command; raises ProtocolError naming the bad field."""
    if "id" in obj and request_id(obj) is None:
        raise ProtocolError("bad_request", "id must be an integer or a string")
    cid = request_id(obj)
    op = obj.get("op")
    if not isinstance(op, str):
        raise ProtocolError("bad_request", "missing \"op\" (one of " + ", ".join(OPS) + ")")
    if op not in OPS:
        raise ProtocolError("unknown_op", f"unknown op {op[:40]!r}; known: {', '.join(OPS)}")
    cmd = Command(op, cid)
    if op in PATH_OPS:
        if "path" not in obj:
            raise ProtocolError("bad_request", f"{op} needs a \"path\"")
        cmd.path = parse_path(obj["path"])
        if cmd.path.fan_out and op in ("watch", "unwatch"):
            raise ProtocolError("bad_path", f"{op} follows one value, and {cmd.path.text!r} fans out over "
                                "the selection; watch one element (e.g. context.active_object...)")
    if op in ("set", "add"):
        if "value" not in obj:
            raise ProtocolError("bad_request", f"{op} needs a \"value\"")
        v = obj["value"]
        if op == "add" and not _is_number(v):
            raise ProtocolError("bad_request", f"add needs a number value, got {json.dumps(v)[:80]}")
        _check_value(v, "value")
        cmd.value = v
    elif op == "call":
        name = obj.get("operator")
        if not is_operator_name(name):
            raise ProtocolError("bad_request", "call needs \"operator\" like \"screen.animation_play\"")
        args = obj.get("args", {})
        if not isinstance(args, dict):
            raise ProtocolError("bad_request", "call \"args\" must be an object")
        for k, v in args.items():
            if not re.fullmatch(r"[a-z][a-z0-9_]*", k):
                raise ProtocolError("bad_request", f"call argument name {k[:40]!r} is not allowed")
            _check_value(v, f"args.{k}")
        cmd.operator, cmd.args = name, args
    elif op == "status":
        cmd.value = parse_status(obj)
    elif op == "mappings":
        cmd.value = parse_mappings(obj)
    elif op in ANSWER_OPS:
        cmd.value = parse_answer(obj)
    elif op == "record":
        on = obj.get("on")
        if not isinstance(on, bool):
            raise ProtocolError("bad_request", f"record needs \"on\": true or false, got {json.dumps(on)[:40]}")
        cmd.value = on
    elif op == "batch":
        if nested:
            raise ProtocolError("bad_request", "a batch cannot contain a batch")
        ops = obj.get("ops")
        if not isinstance(ops, list) or not ops or len(ops) > 4096:
            raise ProtocolError("bad_request", "batch needs \"ops\": a list of 1..4096 commands")
        subs = []
        for i, sub in enumerate(ops):
            if not isinstance(sub, dict):
                raise ProtocolError("bad_request", f"ops[{i}] is not an object")
            if sub.get("op") in INFO_OPS:
                raise ProtocolError("bad_request", f"ops[{i}]: {sub['op']} cannot be part of a batch")
            try:
                subs.append(parse_command(sub, nested=True))
            except ProtocolError as e:
                raise ProtocolError(e.code, f"ops[{i}]: {e.message}") from None
        cmd.ops = subs
    return cmd


def _text(obj, key, where, default=None):
    v = obj.get(key, default)
    if not isinstance(v, str):
        raise ProtocolError("bad_request", f"{where}{key} must be a string")
    return v[:MAX_TEXT]


def _count(obj, key, where):
    v = obj.get(key, 0)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v or v in (float("inf"), float("-inf")):
        raise ProtocolError("bad_request", f"{where}{key} must be a number")
    return v


def _list(obj, key, where, cap=MAX_ITEMS):
    v = obj.get(key, [])
    if not isinstance(v, list) or len(v) > cap:
        raise ProtocolError("bad_request", f"{where}{key} must be a list of at most {cap} items")
    return v


def _objects(obj, key, where, cap=MAX_ITEMS):
    items = _list(obj, key, where, cap)
    for i, x in enumerate(items):
        if not isinstance(x, dict):
            raise ProtocolError("bad_request", f"{where}{key}[{i}] must be an object")
    return items


def _stage(obj, where):
    if not isinstance(obj, dict):
        raise ProtocolError("bad_request", f"{where} must be an object")
    out = {k: _count(obj, k, where + ".") for k in ("n", "p50_us", "p99_us", "max_us", "window_s") if k in obj}
    if "total" in obj:
        out["total"] = _stage(obj["total"], where + ".total")
    return out


def parse_status(obj):
    """A bridge's {"op":"status",...} as plain values for the panel (docs/protocol.md,
    "Status"): texts capped, unknown fields left out; ProtocolError("bad_request")
    naming a field of the wrong type."""
    devices = []
    for i, d in enumerate(_objects(obj, "devices", "")):
        w = f"devices[{i}]."
        state = _text(d, "state", w)
        if state not in DEVICE_STATES:
            raise ProtocolError("bad_request", f"{w}state must be one of {', '.join(DEVICE_STATES)}")
        devices.append({"name": _text(d, "name", w), "kind": _text(d, "kind", w, ""), "state": state,
                        "attached": _text(d, "attached", w, ""), "detail": _text(d, "detail", w, "")})
    layers = [{"name": _text(x, "name", f"layers[{i}]."), "on": bool(x.get("on"))}
              for i, x in enumerate(_objects(obj, "layers", ""))]
    errors = [{"text": _text(e, "text", f"errors[{i}]."), "count": _count(e, "count", f"errors[{i}]."),
               "at": _count(e, "at", f"errors[{i}].")} for i, e in enumerate(_objects(obj, "errors", ""))]
    config_errors = _list(obj, "config_errors", "")
    if not all(isinstance(x, str) for x in config_errors):
        raise ProtocolError("bad_request", "config_errors must be a list of strings")
    latency = obj.get("latency", {})
    if not isinstance(latency, dict) or len(latency) > 16:
        raise ProtocolError("bad_request", "latency must be an object of stages")
    out = {"file": _text(obj, "file", "", ""), "reloads": _count(obj, "reloads", ""),
           "config_errors": [x[:MAX_TEXT] for x in config_errors], "devices": devices, "layers": layers,
           "errors": errors,
           "latency": {str(k)[:64]: _stage(v, f"latency.{str(k)[:64]}") for k, v in latency.items()}}
    if "record" in obj:
        out["record"] = bool(obj["record"])
    return out


def parse_mappings(obj):
    """A bridge's {"op":"mappings","file":F,"mappings":[...]} as plain values."""
    maps = []
    for i, m in enumerate(_objects(obj, "mappings", "", MAX_MAPPINGS)):
        w = f"mappings[{i}]."
        e = {"control": _text(m, "control", w), "does": _text(m, "does", w), "target": _text(m, "target", w),
             "line": _count(m, "line", w)}
        for key in ("layer", "led", "on", "unsaved"):
            if key in m:
                e[key] = _text(m, key, w)
        maps.append(e)
    return {"file": _text(obj, "file", "", ""), "mappings": maps}


# Fields of an answer and their JSON types; strings are cut to 1,000 characters.
_ANSWER_FIELDS = {"path": str, "control": str, "mapping": str, "file": str, "error": str, "reason": str,
                  "line": int, "count": int, "lines": list}


def parse_answer(obj):
    """A learn/forget answer -> a plain dict of its known fields, type-checked (it is only
    shown to the user; its path must still be a path of the grammar)."""
    out = {"op": obj["op"]}
    for key, kind in _ANSWER_FIELDS.items():
        if key not in obj:
            continue
        v = obj[key]
        if isinstance(v, bool) or not isinstance(v, kind) or (
                kind is list and not all(isinstance(x, int) and not isinstance(x, bool) for x in v[:100])):
            raise ProtocolError("bad_request", f"{obj['op']} \"{key}\" must be a JSON {kind.__name__}")
        out[key] = v[:1000] if kind is str else v[:100] if kind is list else v
    if "path" not in out:
        raise ProtocolError("bad_request", f"{obj['op']} needs a \"path\"")
    parse_path(out["path"])
    return out


def check_hello(obj, token):
    """Validate a hello line against the server token (always required:
    docs/security.md). Returns None or the ProtocolError to answer before closing."""
    if "hello" not in obj:
        return ProtocolError("hello_required", 'first line must be {"hello":1,"client":"...","token":"..."}')
    if obj.get("hello") != PROTOCOL or isinstance(obj.get("hello"), bool):
        return ProtocolError("bad_version", f"hello {json.dumps(obj.get('hello'))[:20]} not supported; "
                             f"this add-on speaks {PROTOCOL}")
    got = obj.get("token")
    if not token or not isinstance(got, str) or not hmac.compare_digest(got.encode(), token.encode()):
        return ProtocolError("bad_token", "token missing or wrong (a local client reads it from the "
                             "discovery file, <run>/knoblink/blender-<port>.json)")
    session = obj.get("session")
    if session is not None and not (isinstance(session, str) and 1 <= len(session) <= MAX_SESSION):
        return ProtocolError("bad_request", f"hello \"session\" must be a string of 1..{MAX_SESSION} characters")
    return None
