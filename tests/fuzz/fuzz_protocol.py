#!/usr/bin/env python3
"""The add-on's wire parsers (addon/knoblink/protocol.py) under atheris, a coverage-guided
fuzzer for Python built on libFuzzer:

    fuzz_protocol.py [libFuzzer flags] [CORPUS_DIR ...]

The first input byte picks the cuts and the line cap (small caps reach the oversize path);
the rest is a client's byte stream. Checked for every input:
  - LineFramer gives the same lines (and the same line_too_long reports) fed whole, byte by
    byte and in the chosen slices;
  - decode_line, parse_command and check_hello raise nothing but ProtocolError;
  - parse_path raises nothing but ProtocolError, and a cached answer equals a fresh one.
one_input() is a plain function, so tests/addon/test_fuzz_protocol.py replays inputs without
atheris.
"""

import pathlib
import sys
import types

ROOT = pathlib.Path(__file__).resolve().parents[2]
if "knoblink" not in sys.modules:  # the bpy-free modules without the package's __init__
    pkg = types.ModuleType("knoblink")
    pkg.__path__ = [str(ROOT / "addon" / "knoblink")]
    sys.modules["knoblink"] = pkg


def _import_protocol(instrument):
    if instrument:
        import atheris
        with atheris.instrument_imports(include=["knoblink"]):
            from knoblink import protocol
    else:
        from knoblink import protocol
    return protocol


protocol = None


def _chunks(data, seed):
    x = 0x9E3779B9 ^ seed
    while data:
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        n = 1 + x % 64
        yield data[:n]
        data = data[n:]


def _frame(cap, pieces):
    f = protocol.LineFramer(max_line=cap)
    out = []
    for p in pieces:
        for item in f.feed(p):
            if isinstance(item, protocol.ProtocolError):
                assert item.code == "line_too_long", item.code
                out.append(("too_long",))
            else:
                assert isinstance(item, bytes) and item.strip() and len(item) <= cap, item
                out.append(("line", item))
    return out, f.pending


def _path_summary(text):
    try:
        p = protocol.parse_path(text)
    except protocol.ProtocolError as e:
        return ("error", e.code, e.message)
    return ("ok", p.root, p.segments, p.prefix, p.prop, p.index, p.key)


def _check_path(text):
    first = _path_summary(text)     # may come from the cache
    protocol._PATH_CACHE.pop(text, None) if isinstance(text, str) else None
    fresh = _path_summary(text)     # parsed now
    cached = _path_summary(text)    # from the cache again (when it parsed)
    assert first == fresh == cached, (text, first, fresh)


def one_input(data):
    global protocol
    if protocol is None:
        protocol = _import_protocol(instrument=False)
    if not data:
        return
    seed, stream = data[0], bytes(data[1:])
    cap = 1 + (seed & 0x3F) if seed & 0x80 else protocol.MAX_LINE
    # Lines only: while it discards an oversize line the framer may hold up to the cap of that
    # line's bytes or none, depending on the cuts (pending differs; the lines do not).
    whole = _frame(cap, [stream])[0]
    assert whole == _frame(cap, _chunks(stream, seed))[0], "split framing differs"
    assert whole == _frame(cap, [stream[i:i + 1] for i in range(len(stream))])[0], "byte-wise framing differs"

    for kind, *rest in whole:
        if kind != "line":
            continue
        try:
            obj = protocol.decode_line(rest[0])
        except protocol.ProtocolError as e:
            assert e.code == "bad_json", e.code
            continue
        assert isinstance(obj, dict)
        bad = protocol.check_hello(obj, "secret")
        assert bad is None or isinstance(bad, protocol.ProtocolError)
        try:
            cmd = protocol.parse_command(obj)
        except protocol.ProtocolError as e:
            assert e.code in protocol.ERROR_CODES, e.code
            continue
        assert cmd.op in protocol.OPS
        if "path" in obj:
            _check_path(obj["path"])

    _check_path(stream.decode("utf-8", "replace"))


def main(argv):
    global protocol
    import atheris
    protocol = _import_protocol(instrument=True)
    atheris.Setup(argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
