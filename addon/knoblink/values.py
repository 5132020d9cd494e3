"""Value coercion for Contract 2 writes: a JSON value to the type of the
target property (int rounded half away from zero, bool as value != 0),
range checks, and Blender values back to JSON. No bpy: callers pass the
target's kind, length and range as plain values."""

import json
import math

from .protocol import ProtocolError


def round_half_away(v):
    """Round to the nearest int, .5 away from zero (2.5 -> 3, -2.5 -> -3)."""
    return int(math.copysign(math.floor(abs(v) + 0.5), v))


def coerce(value, kind, path_text):
    """Coerce one JSON value to an RNA kind (FLOAT, INT, BOOLEAN, ENUM). Strings are
    never written (policy.py refuses them before this is reached)."""
    if kind in ("FLOAT", "INT", "BOOLEAN"):
        if isinstance(value, str):
            raise ProtocolError("wrong_type", f"{path_text} is {kind.lower()}; got string {value[:40]!r}")
        if kind == "FLOAT":
            return float(value)
        if kind == "INT":
            return round_half_away(value)
        return value != 0
    if kind == "ENUM":
        if not isinstance(value, str):
            raise ProtocolError("wrong_type", f"{path_text} is {kind.lower()}; got {json.dumps(value)}")
        return value
    raise ProtocolError("wrong_type", f"{path_text} is a {kind.lower()} property; only numbers, bools "
                        "and enums can be set")


def coerce_target(value, kind, length, path_text):
    """Coerce a JSON value to a scalar target (length 0) or a whole array of length."""
    if length:
        if not isinstance(value, list) or len(value) != length:
            raise ProtocolError("wrong_type", f"{path_text} is an array of {length}; "
                                f"send a list of {length} numbers or index one element")
        return [coerce(v, kind, path_text) for v in value]
    if isinstance(value, list):
        raise ProtocolError("wrong_type", f"{path_text} is a single {kind.lower()}; got a list")
    return coerce(value, kind, path_text)


def check_range(value, lo, hi, path_text):
    """Raise out_of_range unless every number in value is within [lo, hi]."""
    for v in value if isinstance(value, list) else (value,):
        if not isinstance(v, bool) and (v < lo or v > hi):
            raise ProtocolError("out_of_range", f"{v} is outside {path_text}'s range [{_num(lo)}, {_num(hi)}]")


def _num(x):
    return str(int(x)) if math.isfinite(x) and x == int(x) and abs(x) < 1e15 else f"{x:g}"


def json_value(v):
    """A Blender value as JSON: sequences to lists, non-finite floats to null."""
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, (bool, int, str)) or v is None:
        return v
    if isinstance(v, (set, frozenset)):
        return sorted(v)
    try:
        return [json_value(x) for x in v]
    except TypeError:
        return str(v)


