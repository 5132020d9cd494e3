"""scripts/blender-addon headless (Debian Blender 3.4, `blender -b`): the
listening line, --scene, --python, quitting on stdin EOF and on SIGTERM,
and the temp dir it removes."""

import glob
import json
import os
import signal
import subprocess
import time

import pytest

from conftest import LISTENING, ROOT, Client, discovery_file, isolated_env

LAUNCHER = str(ROOT / "scripts" / "blender-addon")


def launch(env, *args):
    proc = subprocess.Popen([LAUNCHER, "--port", "0", *args], env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    lines = []
    for raw in proc.stdout:
        lines.append(raw.decode().rstrip())
        m = LISTENING.search(lines[-1])
        if m:
            return proc, int(m.group(1)), lines
    proc.wait(10)
    raise AssertionError(f"no listening line: rc={proc.returncode} stdout={lines} "
                         f"stderr={proc.stderr.read().decode()[-2000:]}")


@pytest.fixture
def env(tmp_path):
    return isolated_env(tmp_path)


def test_scene_and_python_then_quit_on_stdin_eof(env, tmp_path):
    scene = tmp_path / "knob.blend"
    subprocess.run(["blender", "-b", "--factory-startup", "--python-exit-code", "1", "--python-expr",
                    "import bpy; bpy.data.objects['Cube'].name = 'Knob'; "
                    f"bpy.ops.wm.save_as_mainfile(filepath={str(scene)!r})"],
                   env=env, check=True, capture_output=True, timeout=120)
    extra = tmp_path / "extra.py"
    extra.write_text("import bpy\nbpy.data.objects['Knob'].location[1] = 4.5\n")
    proc, port, _ = launch(env, "--scene", str(scene), "--python", str(extra))
    try:
        c = Client(port, env=env)
        assert c.hello["blender"] == "3.4.1"
        assert c.value('bpy.data.objects["Knob"].location[1]') == 4.5  # the extra script ran
        # The discovery file is where the caller's environment puts it (<run> = XDG_RUNTIME_DIR), not
        # in the launcher's temp HOME, and names the scene.
        info = json.loads(discovery_file(port, env).read_text())
        assert info["file"] == str(scene) and info["port"] == port
        c.ok({"op": "set", "path": 'bpy.data.objects["Knob"].location[0]', "value": 2})
        assert c.value("context.active_object.location") == [2.0, 4.5, 0.0]
        assert glob.glob(os.path.join(env["TMPDIR"], "knoblink-blender.*"))
        t0 = time.monotonic()
        proc.stdin.close()
        assert proc.wait(10) == 0
        assert time.monotonic() - t0 < 3.0
        assert c.wait_closed(2)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert not glob.glob(os.path.join(env["TMPDIR"], "knoblink-blender.*"))  # cleaned up
    assert not discovery_file(port, env).exists()  # the add-on removed its discovery file


def test_sigterm_with_no_stdin(env):
    proc, port, _ = launch(env, "--no-stdin")
    try:
        c = Client(port, env=env)
        assert c.value('bpy.data.objects["Cube"].location') == [0.0, 0.0, 0.0]
        proc.stdin.close()
        time.sleep(0.3)
        assert proc.poll() is None  # --no-stdin: still running
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        assert time.monotonic() - t0 < 3.0
        assert "stopped listening" in proc.stderr.read().decode()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


def test_blender_exits_when_the_launcher_is_killed(env):
    """SIGKILL leaves no orphan: Blender watches the launcher's pid."""
    proc, port, _ = launch(env, "--no-stdin")
    try:
        Client(port, env=env).ok({"op": "set", "path": "context.scene.frame_current", "value": 3})  # runner is up
        pidfile = glob.glob(os.path.join(env["TMPDIR"], "knoblink-blender.*", "pid"))
        blender = int(open(pidfile[0]).read())
        proc.kill()
        proc.wait(5)
        end = time.monotonic() + 5
        while os.path.exists(f"/proc/{blender}") and time.monotonic() < end:
            time.sleep(0.05)
        assert not os.path.exists(f"/proc/{blender}"), "Blender outlived its launcher"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
