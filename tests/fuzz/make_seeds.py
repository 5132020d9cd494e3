#!/usr/bin/env python3
"""Writes the fuzzers' seed corpora from the golden files (no downloads):
make_seeds.py SOURCE_DIR OUT_DIR makes OUT_DIR/<target>/ for every target below.

  line_decoder   tests/data/serial/*.txt, after the byte that picks the cuts
  serial_session the same, the first byte also picking the mode (fixed, auto, auto with uid)
  hid_descriptor tests/data/hid/*.hex with their *.reports (the layout in fuzz_hid_descriptor.cpp)
  config         examples/*.yaml, tests/data/hid/*.yaml, tests/hid/pad.yaml, tests/serial_qemu/*.yaml
  link_codec     add-on answers (docs/protocol.md) and tests/data/contract2/*.jsonl lines
  data_path      the paths and operator names of tests/data/contract2/*.jsonl
  protocol       (the add-on's atheris target) command lines built from the same fixtures
"""

import hashlib
import json
import pathlib
import struct
import sys

ANSWERS = [
    '{"hello":1,"server":"knoblink-addon/0.1.0","blender":"3.4.1"}',
    '{"id":1,"ok":true}',
    '{"id":2,"error":"not_found","message":"no object \\"Cube\\""}',
    '{"error":"bad_json","message":"line is not JSON"}',
    '{"ev":"value","path":"context.scene.frame_current","value":1}',
    '{"ev":"value","path":"bpy.data.objects[\\"Cube\\"].location","value":[0,0.5,1]}',
    '{"ev":"value","path":"context.scene.render.engine","value":null}',
    '{"ev":"future","x":[]}',
]


def hex_bytes(text):
    out = bytearray()
    for line in text.splitlines():
        out += bytes.fromhex(line.split("#", 1)[0])
    return bytes(out)


def jsonl(path):
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            yield line, json.loads(line)


def write(out, name, blobs):
    d = out / name
    d.mkdir(parents=True, exist_ok=True)
    for old in d.iterdir():
        old.unlink()
    for blob in blobs:
        (d / hashlib.sha1(blob).hexdigest()).write_bytes(blob)


def main(src, out):
    data = src / "tests" / "data"
    serial = sorted((data / "serial").glob("*.txt"))
    write(out, "line_decoder", [bytes([seed]) + f.read_bytes() for f in serial for seed in (0, 1, 2)])
    write(out, "serial_session", [bytes([seed]) + f.read_bytes() for f in serial for seed in (0, 1, 2)])

    hid = []
    for f in sorted((data / "hid").glob("*.hex")):
        desc = hex_bytes(f.read_text())
        blob = struct.pack("<H", len(desc)) + desc
        reports = f.with_suffix(".reports")
        if reports.exists():
            for line in reports.read_text().splitlines():
                r = hex_bytes(line)
                if r and len(r) < 128:
                    blob += bytes([len(r) * 2]) + r
        hid.append(blob + b"\x01\x00\x01\x00\x00\x00")  # and write output 0 := 1
    write(out, "hid_descriptor", hid)

    configs = (sorted((src / "examples").glob("*.yaml")) + sorted((data / "hid").glob("*.yaml")) +
               [src / "tests" / "hid" / "pad.yaml"] + sorted((src / "tests" / "serial_qemu").glob("*.yaml")))
    write(out, "config", [f.read_bytes() for f in configs])

    c2 = sorted((data / "contract2").glob("*.jsonl"))
    lines = [line for f in c2 for line, _ in jsonl(f)]
    answers = "\n".join(ANSWERS).encode() + b"\n"
    write(out, "link_codec", [b"\x80" + answers, b"\x05" + answers, b"\x93" + answers.replace(b"\n", b"\r\n")] +
          [b"\x80" + line.encode() + b"\n" for line in lines])

    paths = [obj["path"] for f in c2 for _, obj in jsonl(f) if "path" in obj]
    operators = [obj["operator"] for f in c2 for _, obj in jsonl(f) if "operator" in obj]
    write(out, "data_path", [p.encode() for p in paths + operators])

    commands = []
    for i, p in enumerate(paths):
        commands.append({"id": i, "op": ("set", "add", "toggle", "keyframe", "watch")[i % 5], "path": p, "value": 1})
    commands += [{"id": "c", "op": "call", "operator": o, "args": {"delta": 1}} for o in operators]
    commands.append({"op": "batch", "ops": commands[:3]})
    commands.append({"hello": 1, "client": "knoblink/0.1.0", "token": ""})
    write(out, "protocol", [b"\x00" + json.dumps(c).encode() + b"\n" for c in commands] +
          [b"\x07" + answers])


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]))
