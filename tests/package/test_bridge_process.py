"""addon/knoblink/bridge_process.py without Blender (it imports no bpy): real child
processes (small shell scripts standing in for bin/knoblink, and the real knoblink of
the build tree), the restart backoff, the stop, the state and log lines the panel shows,
the default mapping file and its creation from the example."""

import os
import pathlib
import stat
import sys
import time

import pytest

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "tests" / "addon"))
import conftest  # noqa: E402,F401  (makes the add-on's bpy-free modules importable)
from knoblink import bridge_process as bp  # noqa: E402


def wait_for(pred, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.02)
    return False


def script(tmp_path, body, mode=0o755):
    exe = tmp_path / "bin" / "knoblink"
    exe.parent.mkdir(parents=True, exist_ok=True)
    exe.write_text("#!/bin/sh\n" + body)
    os.chmod(exe, mode)
    return exe


def test_default_config_follows_xdg():
    assert bp.default_config({"XDG_CONFIG_HOME": "/x/cfg", "HOME": "/h"}) == "/x/cfg/knoblink/knoblink.yaml"
    assert bp.default_config({"HOME": "/h"}) == "/h/.config/knoblink/knoblink.yaml"
    assert bp.default_config({"XDG_CONFIG_HOME": "relative", "HOME": "/h"}) == "/h/.config/knoblink/knoblink.yaml"


def test_ensure_config_creates_once_and_never_overwrites(tmp_path):
    example = tmp_path / "example.yaml"
    example.write_text("devices: {}\n")
    target = tmp_path / "cfg" / "knoblink" / "knoblink.yaml"
    assert bp.ensure_config(str(target), str(example)) is True
    assert target.read_text() == "devices: {}\n"
    target.write_text("mine\n")
    assert bp.ensure_config(str(target), str(example)) is False
    assert target.read_text() == "mine\n"


def test_a_dying_bridge_is_restarted_with_backoff_and_stop_ends_it(tmp_path):
    cfg = tmp_path / "map.yaml"
    cfg.write_text("x\n")
    count = tmp_path / "count"
    exe = script(tmp_path, f'echo "run $*"; echo . >> {count}; exit 3\n', mode=0o644)  # as a zip leaves it
    s = bp.Supervisor(str(exe), str(cfg), 9876, backoff=(0.1, 0.3), echo=False)
    assert s.start()
    assert wait_for(lambda: count.exists() and len(count.read_text().split()) >= 3)
    assert os.stat(exe).st_mode & stat.S_IXUSR  # made executable
    assert f"run run --config {cfg} --blender-port 9876 --exit-with-parent" in s.lines
    assert any("the bridge exited (code 3); restarting in 0.3 s" in ln for ln in s.lines), list(s.lines)
    s.stop()
    n = len(count.read_text().split())
    time.sleep(0.6)
    assert len(count.read_text().split()) == n  # nothing restarts it after stop
    assert s.state == "stopped" and s.summary() == "Bridge: stopped"


def test_stop_terminates_a_running_bridge_and_kills_one_that_ignores_sigterm(tmp_path):
    cfg = tmp_path / "map.yaml"
    cfg.write_text("x\n")
    exe = script(tmp_path, "trap '' TERM\necho up\nwhile :; do sleep 0.05; done\n")
    s = bp.Supervisor(str(exe), str(cfg), 1, echo=False)
    s.start()
    assert wait_for(lambda: "up" in s.lines)
    pid = s.pid
    assert s.summary() == f"Bridge: running (pid {pid})"
    t0 = time.monotonic()
    s.stop(timeout=0.5)
    assert time.monotonic() - t0 < 3
    assert not s.alive()
    assert any(f"pid {pid} did not stop within" in ln for ln in s.lines)
    assert any(f"stopped pid {pid} (exit code -9)" in ln for ln in s.lines)


def test_missing_mapping_file_or_executable_is_an_error_not_a_retry_loop(tmp_path):
    exe = script(tmp_path, "exit 0\n")
    s = bp.Supervisor(str(exe), str(tmp_path / "nope.yaml"), 1, echo=False)
    assert s.start() is False
    assert s.state == f"error: the mapping file {tmp_path / 'nope.yaml'} does not exist (choose one in the preferences)"
    assert s.pid is None
    s2 = bp.Supervisor(str(tmp_path / "none"), str(exe), 1, echo=False)
    assert s2.start() is False and s2.state.startswith("error: no bridge executable at ")


def test_the_real_bridge_gets_its_argv_and_stops_on_sigterm(tmp_path):
    real = pathlib.Path(os.environ.get("KNOBLINK_BINARY_DIR", ROOT / "build")) / "bridge" / "knoblink"
    if not real.is_file():
        pytest.skip(f"no {real} (build first)")
    cfg = tmp_path / "map.yaml"
    cfg.write_text("devices:\n  box:\n    serial: {port: /dev/null-knoblink-test}\nmappings: []\n")
    s = bp.Supervisor(str(real), str(cfg), 1, echo=False)
    s.start()
    assert wait_for(lambda: any("knoblink running with" in ln for ln in s.lines)), list(s.lines)
    s.stop()
    assert any("SIGTERM: stopping" in ln for ln in s.lines), list(s.lines)
    assert any("(exit code 0)" in ln for ln in s.lines), list(s.lines)
