"""The add-on's parsers under the atheris fuzzer (tests/fuzz/fuzz_protocol.py): a short fixed
run on the seeds made from the golden files, every input it (or a person) found to break them
replayed, and the one found so far checked on a real server thread."""

import os
import pathlib
import subprocess
import sys
import time

import pytest

from conftest import ROOT, Client
from knoblink import protocol, server
from knoblink.cmdqueue import CommandQueue

FUZZ = ROOT / "tests" / "fuzz"
SAVED = ROOT / "tests" / "data" / "fuzz" / "protocol"
sys.path.insert(0, str(FUZZ))
import fuzz_protocol  # noqa: E402  (after the path)

SECONDS = int(os.environ.get("KNOBLINK_FUZZ_SECONDS", "10"))


@pytest.mark.parametrize("saved", sorted(SAVED.iterdir()), ids=lambda p: p.name)
def test_saved_inputs_pass_the_fuzz_checks(saved):
    fuzz_protocol.one_input(saved.read_bytes())


def test_deeply_nested_json_is_bad_json_not_a_recursion_error():
    # json.loads raised RecursionError, which is no ValueError: it escaped decode_line.
    for line in (b"[" * 5000, b'{"a":' * 3000, b'{"op":"set","path":"context.scene.x","value":' + b"[" * 2000):
        with pytest.raises(protocol.ProtocolError) as e:
            protocol.decode_line(line)
        assert e.value.code == "bad_json"


def test_deeply_nested_json_does_not_stop_the_server_thread():
    # Before the fix one such line, before any hello, ended the server thread for every client.
    s = server.Server(CommandQueue(), "127.0.0.1", 0, token="t0ken", log=lambda m: None)
    s.start()
    try:
        c = Client(s.port, hello=False)
        c.send_raw(b"[" * 5000 + b"\n")
        assert c.wait(lambda m: "error" in m)["error"] == "bad_json"
        c.wait_closed()
        time.sleep(0.2)
        assert s.last_error is None or "stopped" not in s.last_error, s.last_error
        assert Client(s.port, token="t0ken").request({"op": "ping"})["ok"] is True
    finally:
        s.stop()


def test_atheris_run_is_clean(tmp_path):
    seeds, work = tmp_path / "seeds", tmp_path / "corpus"
    work.mkdir()
    subprocess.run([sys.executable, str(FUZZ / "make_seeds.py"), str(ROOT), str(seeds)], check=True)
    run = subprocess.run(
        [sys.executable, str(FUZZ / "fuzz_protocol.py"), f"-max_total_time={SECONDS}", "-print_final_stats=1",
         f"-artifact_prefix={tmp_path}/", str(work), str(seeds / "protocol"), str(SAVED)],
        capture_output=True, text=True, timeout=SECONDS + 120)
    assert run.returncode == 0, run.stderr[-4000:]
    assert "DONE" in run.stderr and not list(tmp_path.glob("crash-*")), run.stderr[-2000:]
