"""The extension zip that brings the bridge (scripts/package), in a clean PyPI
bpy 5.0 (KNOBLINK_BACKEND=bpy50: installed as an extension, ext_driver.py) or
Debian's Blender 3.4 (blender34: the same zip installed as a legacy add-on,
legacy_driver.py): installed from the zip, enabled, and the add-on starts the
bundled knoblink itself; the emulated knob box (the firmware in knoblink-sim on a pty)
then moves the Cube. The test starts no knoblink: it finds the add-on's child in
/proc. It kills the child (the add-on restarts it), turns the preference off
(stopped, not restarted) and on, and quits Blender without disabling the add-on
(the atexit stop), checking the child's pid is gone each time.

Needs KNOBLINK_BINARY_DIR, KNOBLINK_SIM and KNOBLINK_FIRMWARE_ELF (ctest sets them).
"""

import os
import pathlib
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path[:0] = [str(HERE), str(ROOT / "tests" / "addon")]
from conftest import LISTENING, Client  # noqa: E402
from test_extension import extension_env  # noqa: E402
from pkgtest import build_zip  # noqa: E402

BACKEND = os.environ.get("KNOBLINK_BACKEND", "bpy50")
CUBE_X = 'bpy.data.objects["Cube"].location[0]'  # knob 2 in examples/knobbox.yaml, to: [-2, 2]


def _collect(stream, sink):
    for line in stream:
        sink.append(line.decode(errors="replace").rstrip("\n"))


def wait_for(pred, timeout, what):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError(f"no {what} within {timeout} s")


def children(ppid, exe):
    """Pids whose parent is ppid and whose executable is exe (from /proc)."""
    found = []
    for d in pathlib.Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            status = (d / "status").read_text()
            if re.search(rf"^PPid:\s+{ppid}$", status, re.M) and os.readlink(d / "exe") == str(exe):
                found.append(int(d.name))
        except OSError:
            continue
    return found


def cmdline(pid):
    return (pathlib.Path("/proc") / str(pid) / "cmdline").read_bytes().split(b"\0")[:-1]


def gone(pid):
    try:
        state = (pathlib.Path("/proc") / str(pid) / "status").read_text()
    except FileNotFoundError:
        return True
    return re.search(r"^State:\s+Z", state, re.M) is not None  # a zombie has stopped


class Sim:
    """knoblink-sim running the firmware; 'pty /dev/pts/N' is its first line."""

    def __init__(self, tmp):
        self.proc = subprocess.Popen([os.environ["KNOBLINK_SIM"], os.environ["KNOBLINK_FIRMWARE_ELF"]],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        first = self.proc.stdout.readline().split()
        assert first[:1] == ["pty"], first
        self.pty = first[1]
        self.out = []  # read all along: a full pipe would stall the emulator
        threading.Thread(target=lambda: [self.out.append(ln.rstrip()) for ln in self.proc.stdout],
                         daemon=True).start()

    def send(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def close(self):
        self.proc.kill()
        self.proc.wait(5)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bundle")
    zip_path = build_zip(tmp / "dist")
    env = extension_env(tmp)
    sim = Sim(tmp)
    # The default mapping file ($XDG_CONFIG_HOME/knoblink/knoblink.yaml): the example, on the pty.
    example = (ROOT / "examples" / "knobbox.yaml").read_text()
    config = pathlib.Path(env["XDG_CONFIG_HOME"]) / "knoblink" / "knoblink.yaml"
    config.parent.mkdir(parents=True)
    config.write_text(example.replace("port: auto", f"port: {sim.pty}", 1))
    if BACKEND == "blender34":
        env["TMPDIR"] = str(tmp / "tmp")  # Blender writes quit.blend there
        argv = ["blender", "-b", "--factory-startup", "--python-exit-code", "1",
                "--python", str(HERE / "legacy_driver.py"), "--", str(zip_path)]
        installed = pathlib.Path(env["BLENDER_USER_SCRIPTS"]) / "addons" / "knoblink"
    else:
        argv = [sys.executable, str(ROOT / "tests" / "addon" / "ext_driver.py"), "-", str(zip_path), "--prebuilt",
                "--quit"]
        installed = pathlib.Path(env["BLENDER_USER_EXTENSIONS"]) / "user_default" / "knoblink"
    proc = subprocess.Popen(argv, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    o, e = [], []
    for stream, sink in ((proc.stdout, o), (proc.stderr, e)):
        threading.Thread(target=_collect, args=(stream, sink), daemon=True).start()
    exe = installed / "bin" / "knoblink"
    w = dict(tmp=tmp, env=env, proc=proc, out=o, err=e, sim=sim, config=config, exe=exe, zip=zip_path)
    try:
        w["port"] = wait_for(lambda: next((int(m.group(1)) for m in map(LISTENING.search, list(o)) if m), None),
                             60, f"listening line; stdout {o[-20:]} stderr {e[-20:]}")
        yield w
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
            proc.wait(5)
        for pid in children(proc.pid, exe):
            os.kill(pid, 9)
        sim.close()


def bridge_pid(w, not_pid=None, timeout=20):
    def one():
        pids = [p for p in children(w["proc"].pid, w["exe"]) if p != not_pid and not gone(p)]
        return pids[0] if len(pids) == 1 else None
    return wait_for(one, timeout, f"bundled bridge child of {w['proc'].pid} ({w['exe']}); "
                    f"stderr {w['err'][-15:]}")


def cube_follows(w, c, knob, value, expect):
    c.msgs.clear()
    c.ok({"op": "watch", "path": CUBE_X})
    deadline = time.monotonic() + 45  # generous: a loaded machine paces the emulator below real time
    last = None
    while time.monotonic() < deadline:
        w["sim"].send(f"knob 2 {knob}")
        try:
            ev = c.wait(lambda m: m.get("ev") == "value" and m.get("path") == CUBE_X
                        and abs(m["value"] - expect) < 1e-3, timeout=1.0)
            c.ok({"op": "unwatch", "path": CUBE_X})
            return ev["value"]
        except AssertionError:
            last = [m for m in c.msgs if m.get("ev") == "value"][-1:]
        w["sim"].send(f"knob 2 {value}")  # move away and back: a repeat of one value maps nothing
    for pid in children(w["proc"].pid, w["exe"]):  # the bridge's counters and devices, for the message
        os.kill(pid, signal.SIGUSR1)
    time.sleep(0.5)
    raise AssertionError(f"Cube x never reached {expect}; last value events {last}; stderr {w['err'][-20:]}; "
                         f"emulator {w['sim'].out[-10:]}")


def test_the_addon_starts_the_bundled_bridge_and_the_knob_moves_the_cube(world):
    w = world
    pid = bridge_pid(w)
    argv = cmdline(pid)
    assert argv[1:] == [b"run", b"--config", str(w["config"]).encode(), b"--blender-port",
                        str(w["port"]).encode(), b"--exit-with-parent"], argv
    c = Client(w["port"], name="bundle", env=w["env"])
    try:
        assert c.hello["blender"].startswith("3.4" if BACKEND == "blender34" else "5.0"), c.hello
        assert cube_follows(w, c, 1023, 900, 2.0) == pytest.approx(2.0)
        assert cube_follows(w, c, 0, 100, -2.0) == pytest.approx(-2.0)
    finally:
        c.close()


def test_a_killed_bridge_is_restarted(world):
    w = world
    old = bridge_pid(w)
    os.kill(old, 9)
    new = bridge_pid(w, not_pid=old)
    assert new != old
    assert any("the bridge exited (code -9); restarting in" in ln for ln in w["err"]), w["err"][-20:]
    c = Client(w["port"], name="bundle2", env=w["env"])
    try:
        assert cube_follows(w, c, 1023, 900, 2.0) == pytest.approx(2.0)
    finally:
        c.close()


def test_the_preference_off_stops_it_and_on_starts_it(world):
    w = world
    pid = bridge_pid(w)
    w["proc"].stdin.write(b"bridge off\n")
    w["proc"].stdin.flush()
    wait_for(lambda: gone(pid), 10, f"exit of {pid} after bridge off")
    time.sleep(2.0)  # longer than the first backoff: nothing restarts it
    assert [p for p in children(w["proc"].pid, w["exe"]) if not gone(p)] == []
    w["proc"].stdin.write(b"bridge on\n")
    w["proc"].stdin.flush()
    assert bridge_pid(w, not_pid=pid) != pid


def test_quitting_blender_stops_it(world):
    w = world
    pid = bridge_pid(w)
    w["proc"].stdin.close()  # --quit: exits without disabling the add-on
    assert w["proc"].wait(20) == 0, w["err"][-20:]
    wait_for(lambda: gone(pid), 10, f"exit of the bridge {pid} after Blender quit")
    time.sleep(0.2)
    assert "knoblink-ext: quitting" in w["out"], w["out"][-10:]
    # the add-on stopped it (atexit; unregister in 3.4), not only the death signal
    assert any(f"stopped pid {pid}" in ln for ln in w["err"]), w["err"][-20:]


def test_zip_layout(world):
    import zipfile
    with zipfile.ZipFile(world["zip"]) as z:
        names = set(z.namelist())
    # One top folder: Blender 4.2+ installs it as an extension, 3.4 as a legacy add-on.
    assert {n.split("/")[0] for n in names} == {"knoblink"}, names
    for need in ("knoblink/__init__.py", "knoblink/blender_manifest.toml", "knoblink/bin/knoblink",
                 "knoblink/examples/knobbox.yaml", "knoblink/LICENSE"):
        assert need in names, sorted(names)
