"""The bpy work of the drain, on the main thread only: resolves data paths
to targets, writes them, inserts keyframes, calls operators, reads watched
values, pushes undo steps and tags the sidebar for redraw. Every failure is
a ProtocolError. What to apply when, replies and watches are link.py's."""

import contextlib

import bpy

from . import policy, protocol, values
from .protocol import ProtocolError


# ---------------------------------------------------------------- targets

class Target:
    """A resolved value: struct + RNA property (and array index), or struct +
    custom property key. kind/length/lo/hi are plain values (RNA types are
    static); struct is only valid until the drain ends."""

    __slots__ = ("struct", "prop", "index", "key", "kind", "length", "lo", "hi", "subtype", "path")


_IDPROP_KIND = {bool: "BOOLEAN", int: "INT", float: "FLOAT", str: "STRING"}
_INF = float("inf")
_rna_info = {}  # (bpy type, property name) -> (kind, length, lo, hi, subtype), or None: no such property
_lineages = {}  # bpy type -> (identifiers up its RNA bases, policy.struct_refusal of the type or None)


def _property_info(struct, name):
    key = (type(struct), name)
    info = _rna_info.get(key, _rna_info)
    if info is _rna_info:
        rna = struct.bl_rna.properties.get(name)
        if rna is None:
            info = None
        else:
            kind = "ENUM_FLAG" if rna.type == "ENUM" and rna.is_enum_flag else rna.type
            numeric = rna.type in ("FLOAT", "INT", "BOOLEAN")
            if len([d for d in getattr(rna, "array_dimensions", ()) if d]) > 1:
                kind = "MATRIX"
            lo, hi = (rna.hard_min, rna.hard_max) if rna.type in ("FLOAT", "INT") else (-_INF, _INF)
            info = (kind, rna.array_length if numeric else 0, lo, hi, rna.subtype)
        _rna_info[key] = info
    return info


def _lineage(struct):
    """(identifiers of struct's RNA type and its bases, the type's refusal or None),
    from the RNA facts policy.py decides on: the identifiers, and whether the type
    has a file-path string or a pointer to a Text. Cached per type (RNA types are static)."""
    key = type(struct)
    hit = _lineages.get(key)
    if hit is None:
        rna = struct.bl_rna
        idents = []
        base = rna
        while base is not None:
            idents.append(base.identifier)
            base = base.base
        holds = any((p.type == "STRING" and p.subtype in policy.FILE_SUBTYPES)
                    or (p.type == "POINTER" and p.fixed_type is not None and p.fixed_type.identifier == "Text")
                    for p in rna.properties)
        idents = tuple(idents)
        hit = _lineages[key] = (idents, policy.struct_refusal(idents, holds))
    return hit


def _refuse(refusal, p):
    if refusal is not None:
        raise ProtocolError("not_allowed", refusal.message(p.text))


def _check_struct(struct, p):
    idents, refusal = _lineage(struct)
    _refuse(refusal, p)
    return idents


class Roots:
    """Data-blocks and context roots looked up during one drain (a name
    lookup costs ~8 us). forget() after anything that may rename, free or
    re-point them: operators (the wire never writes strings, so no renames)."""

    def __init__(self):
        self._cache = {}

    def forget(self):
        self._cache.clear()

    def get(self, p):
        root = self._cache.get(p.root)
        if root is None:
            root = self._cache[p.root] = _root(p)
        return root


def _root(p):
    if p.root[0] == "each":  # a selection: the elements, in Blender's order (docs/protocol.md, "Selections")
        elements = getattr(bpy.context, p.root[1], None)
        if elements is None:
            raise ProtocolError("not_found", f"{p.text}: context.{p.root[1]} is None here"
                                + (" (no armature in pose mode)" if p.root[1] == "selected_pose_bones" else ""))
        if not elements:
            raise ProtocolError("not_found", f"{p.text}: context.{p.root[1]} is empty (nothing is selected)")
        return tuple(elements)
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


def resolve(p, roots=None, write=False, element=None):
    """ParsedPath -> Target, or ProtocolError naming the part that failed.
    write: the target is about to be written (set/add/toggle/keyframe): every
    struct on the way and every property stepped through is checked against
    policy.py, and so is the target (not_allowed naming the rule).
    element: for a fan-out path, the selected struct to resolve the rest on
    (targets() passes each in turn); a fan-out path has no single target."""
    if p.fan_out:
        if element is None:
            raise ProtocolError("internal", f"{p.text}: a fan-out path resolved as one target")
        struct = element
    else:
        if write and p.root[0] == "data":
            _refuse(policy.property_refusal(("BlendData",), p.root[1]), p)
        struct = roots.get(p) if roots is not None else _root(p)
    if write:
        idents = _check_struct(struct, p)
        for attr, step in p.steps:
            if attr is not None:
                _refuse(policy.property_refusal(idents, attr), p)
            try:
                struct = struct.path_resolve(step)
            except ValueError:
                raise ProtocolError("not_found", f"{p.text}: {p.prefix!r} does not resolve at {step!r}") from None
            if not isinstance(struct, bpy.types.bpy_struct):
                raise ProtocolError("not_found", f"{p.text}: {step!r} is not a struct")
            idents = _check_struct(struct, p)
    elif p.prefix:
        try:
            struct = struct.path_resolve(p.prefix)
        except ValueError:
            raise ProtocolError("not_found", f"{p.text}: {p.prefix!r} does not resolve") from None
        if not isinstance(struct, bpy.types.bpy_struct):
            raise ProtocolError("not_found", f"{p.text}: {p.prefix!r} is not a struct")
    t = Target()
    t.struct, t.path, t.prop, t.index, t.key = struct, p.text, p.prop, p.index, p.key
    t.subtype = ""
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
        t.lo, t.hi = _idprop_range(struct, p.key) if t.kind in ("INT", "FLOAT") else (-_INF, _INF)
        if write:
            _refuse(policy.value_refusal(f"custom property {p.key!r}", t.kind), p)
        return t
    info = _property_info(struct, p.prop)
    if info is None:
        raise ProtocolError("not_found", f"{p.text}: {struct.bl_rna.identifier} has no property {p.prop!r}")
    t.kind, t.length, t.lo, t.hi, t.subtype = info
    if write:
        _refuse(policy.target_refusal(_lineage(struct)[0], p.prop, t.kind, t.subtype), p)
    if p.index is not None:
        if not t.length:
            raise ProtocolError("wrong_type", f"{p.text}: {p.prop!r} is not an array")
        if p.index >= t.length:
            raise ProtocolError("not_found", f"{p.text}: index {p.index} but {p.prop!r} has {t.length} elements")
        t.length = 0
    return t


def targets(p, roots=None):
    """The targets a write to p reaches, each resolved with write=True (policy.py checks
    it exactly as a single target): one for a plain path; for a fan-out path one per
    selected element the rest of the path resolves on. Elements it does not resolve on
    are skipped (as Blender's Copy to Selected skips them); any other refusal of any
    element (not_allowed, wrong_type) refuses the whole command, naming the element,
    before anything is written. not_found when the selection is empty or no element
    resolves (docs/protocol.md, "Selections")."""
    if not p.fan_out:
        return (resolve(p, roots, write=True),)
    elements = roots.get(p) if roots is not None else _root(p)
    out, missing = [], None
    for el in elements:
        where = repr(el)  # bpy.data.objects['A'], bpy.data.objects['Rig'].pose.bones["b1"]
        try:
            t = resolve(p, write=True, element=el)
        except ProtocolError as e:
            if e.code != "not_found":
                raise ProtocolError(e.code, f"{e.message} (element {where})") from None
            missing = missing or e
            continue
        t.path = f"{p.text} (element {where})"
        out.append(t)
    if not out:
        raise ProtocolError("not_found", f"{missing.message} (on none of the {len(elements)} "
                            f"element{'s' if len(elements) != 1 else ''} of context.{p.root[1]})")
    return tuple(out)


def _idprop_range(struct, key):
    try:
        ui = struct.id_properties_ui(key).as_dict()
    except (TypeError, AttributeError):
        return -_INF, _INF
    return ui.get("min", -_INF), ui.get("max", _INF)


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
    return values.json_value(v)


def checked(t, value, clamp=False):
    """value coerced to the target's type and range-checked (or clamped): what store()
    writes. Raises ProtocolError (read_only, wrong_type, out_of_range); writes nothing."""
    if t.key is None and t.struct.is_property_readonly(t.prop):
        raise ProtocolError("read_only", f"{t.path} is read-only")
    v = values.coerce_target(value, t.kind, t.length, t.path)
    if t.kind == "FLOAT" or t.kind == "INT":
        if clamp:
            v = min(max(v, t.lo), t.hi)
        else:
            values.check_range(v, t.lo, t.hi, t.path)
    return v


def store(t, v):
    """Set the target to v, a value checked() made."""
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


def planned(op, t, value):
    """What set, add or toggle stores in t, checked (nothing written yet): set the value;
    add current + delta clamped to the hard range (an encoder stops at the end); toggle
    the flipped bool (or 0/1 custom property)."""
    if op == "set":
        return checked(t, value)
    if op == "add":
        return checked(t, _current_number(t) + value, clamp=True)
    if t.length or t.kind not in ("BOOLEAN", "INT") or (t.kind == "INT" and t.key is None):
        raise ProtocolError("wrong_type", f"{t.path}: toggle needs a bool (or a 0/1 custom property)")
    cur = t.struct[t.key] if t.key is not None else (
        getattr(t.struct, t.prop) if t.index is None else getattr(t.struct, t.prop)[t.index])
    return checked(t, 0 if cur else 1)


def keyframe(t):
    data_path = t.prop if t.key is None else f"[{protocol.quote(t.key)}]"
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
    """Call an allow-listed operator; every argument must be one of its own
    properties, and a number, bool or enum (policy.argument_refusal)."""
    refusal = policy.operator_refusal(name)
    if refusal is not None:
        raise ProtocolError("not_allowed", refusal.message(name))
    if name not in allowed:
        raise ProtocolError("not_allowed", f"operator {name!r} is not on the allow-list "
                            "(Preferences > Add-ons > KnobLink > Allowed operators)")
    group, fn = name.split(".")
    op = getattr(getattr(bpy.ops, group), fn)
    try:
        rna = op.get_rna_type()
    except KeyError:
        raise ProtocolError("operator_failed", f"no operator {name!r} in this Blender") from None
    _check_arguments(name, rna, args)
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


def _check_arguments(name, rna, args):
    props = rna.properties
    for arg in args:
        prop = props.get(arg) if arg != "rna_type" else None
        if prop is None:
            known = ", ".join(p.identifier for p in props if p.identifier != "rna_type") or "none"
            raise ProtocolError("bad_value", f"{name} has no argument {arg!r}; its arguments: {known}")
        kind = "ENUM_FLAG" if prop.type == "ENUM" and prop.is_enum_flag else prop.type
        refusal = policy.argument_refusal(name, arg, kind, prop.subtype)
        if refusal is not None:
            raise ProtocolError("not_allowed", refusal.message(name))


def run(cmd, value, roots, operators):
    """Apply one set, add, toggle, keyframe or call to Blender (value: the
    possibly coalesced value of a set/add), to each target of a fan-out path
    (targets()); raises ProtocolError. Returns the targets written, each
    resolved element (what recording keys: record.py), () for a call. Forgets
    cached roots after anything that may rename, free or re-point them
    (operators: strings, names included, are never written)."""
    op = cmd.op
    if op == "call":
        roots.forget()
        call_operator(cmd.operator, cmd.args, operators)
        roots.forget()
        return ()
    if op not in ("set", "add", "toggle", "keyframe"):
        raise ProtocolError("internal", f"run() got {op!r}")
    ts = targets(cmd.path, roots)
    if op == "keyframe":
        for t in ts:
            keyframe(t)
        return ts
    # Every target's value is checked before the first is written: a fan-out path
    # that one element refuses (read-only, out of range) writes none.
    for t, v in [(t, planned(op, t, value)) for t in ts]:
        store(t, v)
    return ts


def watched_value(p, roots):
    """The value a watch on p reports: JSON data, or None while p does not resolve."""
    try:
        return read(resolve(p, roots))
    except (ProtocolError, ReferenceError, KeyError, IndexError):
        return None


def undo_push(message):
    """One undo step named message (with a window context when there is one)."""
    try:
        with _override():
            if bpy.ops.ed.undo_push.poll():
                bpy.ops.ed.undo_push(message=message)
    except (RuntimeError, TypeError) as e:
        raise ProtocolError("internal", f"undo push failed: {e}") from None


def redraw_sidebars():
    """Tag the 3D views' sidebars (the KnobLink panel) for redraw."""
    for win in bpy.context.window_manager.windows:
        for area in win.screen.areas:
            if area.type == "VIEW_3D":
                for region in area.regions:
                    if region.type == "UI":
                        region.tag_redraw()
