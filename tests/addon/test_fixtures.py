"""The shared Contract 2 fixtures (tests/data/contract2/, also read by the
bridge's tests) against the add-on's own parser and queue: every line is
one case."""

import json

import pytest

from conftest import ROOT
from knoblink import protocol
from knoblink.cmdqueue import CommandQueue
from knoblink.protocol import ProtocolError, parse_command, parse_path

DATA = ROOT / "tests" / "data" / "contract2"


def cases(name):
    """(line number, object) for each case line of a fixture file."""
    out = []
    for n, line in enumerate((DATA / name).read_text(encoding="utf-8").splitlines(), 1):
        if line.strip() and not line.lstrip().startswith("#"):
            out.append(pytest.param(json.loads(line), id=f"{name}:{n}"))
    assert out, f"{name} has no cases"
    return out


@pytest.mark.parametrize("case", cases("paths_valid.jsonl"))
def test_valid_path(case):
    p = parse_path(case["path"])
    assert list(p.root) == case["root"]
    assert [list(s) for s in p.segments] == case["segments"]


@pytest.mark.parametrize("case", cases("paths_invalid.jsonl"))
def test_invalid_path(case):
    with pytest.raises(ProtocolError) as e:
        parse_path(case["path"])
    assert e.value.code == "bad_path", e.value.message
    assert case["reason"] in e.value.message, e.value.message


@pytest.mark.parametrize("case", cases("operators.jsonl"))
def test_operator_name(case):
    assert protocol.is_operator_name(case["operator"]) is case["valid"]
    # parse_command's call takes exactly the names is_operator_name accepts.
    obj = {"op": "call", "operator": case["operator"]}
    if case["valid"]:
        assert parse_command(obj).operator == case["operator"]
    else:
        with pytest.raises(ProtocolError) as e:
            parse_command(obj)
        assert e.value.code == "bad_request"


# The coalescing fixtures name paths by placeholders ("A", "B"): each becomes
# a distinct valid path (a custom property of the scene) and back.
def _path(name):
    return name if name.startswith(("bpy.", "context.")) else f'context.scene["{name}"]'


def _command(c):
    op, target = c[0], c[1]
    if op == "call":
        return {"op": "call", "operator": target}
    if op == "record":  # ["record", on]: no path
        return {"op": "record", "on": target}
    obj = {"op": op, "path": _path(target)}
    if op in ("set", "add"):
        obj["value"] = c[2]
    return obj


@pytest.mark.parametrize("case", cases("coalescing.jsonl"))
def test_coalescing(case):
    q = CommandQueue()
    for c in case["push"]:
        q.push(parse_command(_command(c)), "conn")
    names = {_path(c[1]): c[1] for c in case["push"] if c[0] not in ("call", "record")}
    got = []
    while (e := q.pop()) is not None:
        cmd = e.cmd
        got.append([cmd.op, cmd.operator] if cmd.op == "call" else [cmd.op, cmd.value] if cmd.op == "record" else
                   [cmd.op, names[cmd.path.text]] + ([e.value] if cmd.op in ("set", "add") else []))
    assert got == case["queue"], case["name"]
