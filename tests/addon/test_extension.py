"""The add-on as a Blender 4.2+ extension, on PyPI bpy 5.0: built with Blender's
own packager from addon/knoblink (blender_manifest.toml), validated, installed
from the zip into the user_default repository and enabled as
bl_ext.user_default.knoblink (ext_driver.py), then a real socket client gets
the hello and a `set` is applied.

Isolated: temp HOME, TMPDIR, XDG dirs, and BLENDER_USER_{CONFIG,SCRIPTS,
EXTENSIONS,DATAFILES}, so nothing comes from (or lands in) the user's Blender;
the legacy add-on folder is not on any path.
"""

import os
import pathlib
import socket
import subprocess
import sys
import threading
import time
import zipfile

import pytest

from conftest import ADDON, LISTENING, Client

HERE = pathlib.Path(__file__).resolve().parent
CUBE_X = 'bpy.data.objects["Cube"].location[0]'


def extension_env(tmp):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("BLENDER_", "KNOBLINK_")) and k != "DISPLAY"}
    for var, sub in (("HOME", "home"), ("TMPDIR", "tmp"), ("XDG_CACHE_HOME", "cache"),
                     ("XDG_CONFIG_HOME", "config"), ("XDG_DATA_HOME", "data"), ("XDG_RUNTIME_DIR", "run"),
                     ("BLENDER_USER_CONFIG", "b/config"), ("BLENDER_USER_SCRIPTS", "b/scripts"),
                     ("BLENDER_USER_EXTENSIONS", "b/extensions"),
                     ("BLENDER_USER_DATAFILES", "b/datafiles")):
        d = tmp / sub
        d.mkdir(parents=True, exist_ok=True)
        env[var] = str(d)
    return env


def _collect(stream, sink):
    for line in stream:
        sink.append(line.decode(errors="replace").rstrip("\n"))


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ext")
    env = extension_env(tmp)
    blocker = socket.socket()  # hold a port: the add-on must move to the next free one
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    env["KNOBLINK_PORT"] = str(blocker.getsockname()[1])
    zip_path = tmp / "out" / "knoblink.zip"
    zip_path.parent.mkdir()
    proc = subprocess.Popen([sys.executable, str(HERE / "ext_driver.py"), str(ADDON), str(zip_path)],
                            env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    out, err = [], []
    for stream, sink in ((proc.stdout, out), (proc.stderr, err)):
        threading.Thread(target=_collect, args=(stream, sink), daemon=True).start()
    port = None
    end = time.monotonic() + 45
    while port is None and time.monotonic() < end and proc.poll() is None:
        port = next((int(m.group(1)) for m in map(LISTENING.search, list(out)) if m), None)
        time.sleep(0.05)
    info = dict(tmp=tmp, env=env, zip=zip_path, proc=proc, out=out, err=err, port=port)
    try:
        assert port is not None, (f"no listening line; rc={proc.poll()}\nstdout: {out[-30:]}\n"
                                  f"stderr: {err[-30:]}")
        yield info
    finally:
        if proc.poll() is None:
            proc.stdin.close()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
                proc.wait(5)
        blocker.close()


def test_zip_is_an_extension_package(installed):
    with zipfile.ZipFile(installed["zip"]) as z:
        names = set(z.namelist())
        manifest = z.read("blender_manifest.toml").decode()  # at the zip root
    sources = {p.relative_to(ADDON).as_posix() for p in ADDON.rglob("*")
               if p.is_file() and "__pycache__" not in p.parts
               and not any(part.startswith(".") for part in p.relative_to(ADDON).parts)}
    assert names == sources, f"zip {sorted(names)} vs source {sorted(sources)}"
    assert 'id = "knoblink"' in manifest
    import tomllib
    # network: the listening socket; files: the discovery file (Blender's validator checked the reasons).
    assert sorted(tomllib.loads(manifest)["permissions"]) == ["files", "network"]


def test_installed_as_extension_not_legacy(installed):
    out = "\n".join(installed["out"])
    ext_dir = pathlib.Path(installed["env"]["BLENDER_USER_EXTENSIONS"]) / "user_default" / "knoblink"
    assert "knoblink-ext: install ['FINISHED']" in out, out
    assert f"knoblink-ext: module bl_ext.user_default.knoblink {ext_dir}" in out, out
    # the add-on's preferences class registered under the extension's package name
    assert "knoblink-ext: preferences KNOBLINK_AP_preferences" in out, out
    assert (ext_dir / "blender_manifest.toml").is_file()


def test_hello_and_set(installed):
    port = installed["port"]
    assert port != int(installed["env"]["KNOBLINK_PORT"])  # moved off the held port
    c = Client(port, name="ext", env=installed["env"])
    try:
        assert c.hello.get("hello") == 1, c.hello
        assert c.hello["server"].startswith("knoblink-addon/"), c.hello
        assert c.hello["blender"].startswith("5.0"), c.hello
        c.ok({"op": "set", "path": CUBE_X, "value": 1.25})
        assert c.value(CUBE_X) == pytest.approx(1.25)
        c.ok({"op": "set", "path": CUBE_X, "value": -0.5})
        assert c.value(CUBE_X) == pytest.approx(-0.5)
    finally:
        c.close()


def test_quits_cleanly_on_stdin_eof(installed):
    proc = installed["proc"]
    proc.stdin.close()
    assert proc.wait(15) == 0, "\n".join(installed["err"][-30:])
    time.sleep(0.1)  # reader threads finish
    assert "knoblink-ext: disabled" in installed["out"], installed["out"][-20:]
    assert any("stopped listening" in ln for ln in installed["err"]), installed["err"][-20:]
