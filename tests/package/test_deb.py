"""The .deb CPack makes (cmake/packaging.cmake), installed for real with dpkg -i on this
machine and removed again with dpkg -r (docs/install.md, "How the .deb is tested"):

- its Depends (dpkg-shlibdeps) name the dynamically linked libraries and none of the ones
  linked in statically; `dpkg --dry-run -i` accepts it (they are all installed here);
- `dpkg -i`: /usr/bin/knoblink --version prints the project version; the files are in the
  usual places; `systemd-analyze --user verify` passes on the installed user unit, whose
  ExecStart is /usr/bin/knoblink; `knoblink run` with no mapping file names the default path;
- `dpkg -r` removes every file it installed.

The real install needs root and a machine where no other knoblink package is installed (CI:
a throwaway container, as root); elsewhere those tests are skipped, saying why.
"""

import os
import pathlib
import re
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILD = pathlib.Path(os.environ.get("KNOBLINK_BINARY_DIR", ROOT / "build"))


def run(*argv, **kw):
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=60, **kw)


def version():
    out = run(str(BUILD / "bridge" / "knoblink"), "--version").stdout
    return re.fullmatch(r"knoblink (\S+)\n", out).group(1)


@pytest.fixture(scope="module")
def deb(tmp_path_factory):
    out = tmp_path_factory.mktemp("deb")
    r = run("cpack", "--config", str(BUILD / "CPackConfig.cmake"), "-B", str(out), cwd=BUILD)
    assert r.returncode == 0, r.stdout + r.stderr
    path = out / f"knoblink_{version()}_amd64.deb"
    assert path.is_file(), (sorted(p.name for p in out.iterdir()), r.stdout)
    return path


def field(deb, name):
    return run("dpkg-deb", "-f", str(deb), name).stdout.strip()


def test_dependencies(deb):
    depends = field(deb, "Depends")
    names = {alt.split()[0] for dep in depends.split(",") for alt in dep.split("|")}
    for lib in ("libc6", "libstdc++6", "libudev1", "libasound2", "libjack-jackd2-0", "libfmt9"):
        assert lib in names, depends
    assert any(n.startswith("libspdlog1.10") for n in names), depends
    for static in ("libyaml-cpp", "libserialport", "libhidapi", "librtmidi", "liblo"):
        assert not any(n.startswith(static) for n in names), depends
    assert field(deb, "Version") == version()
    assert field(deb, "Architecture") == "amd64"
    r = run("dpkg", "--dry-run", "-i", str(deb))
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.fixture(scope="module")
def installed(deb):
    if os.geteuid() != 0:
        pytest.skip("dpkg -i needs root (CI runs as root)")
    if run("dpkg-query", "-W", "-f=${Status}", "knoblink").stdout.startswith("install"):
        pytest.skip("a knoblink package is installed on this machine already: not touching it")
    r = run("dpkg", "-i", str(deb))
    assert r.returncode == 0, r.stdout + r.stderr
    files = [line for line in run("dpkg", "-L", "knoblink").stdout.splitlines() if line]
    try:
        yield files
    finally:
        r = run("dpkg", "-r", "knoblink")
        assert r.returncode == 0, r.stdout + r.stderr
        left = [f for f in files if os.path.isfile(f)]
        assert not left, f"dpkg -r left {left}"  # fails the module's last test


def test_installed_in_the_usual_places(installed):
    for path in ("/usr/bin/knoblink", "/usr/lib/systemd/user/knoblink.service",
                 "/usr/lib/udev/rules.d/70-knoblink.rules", "/usr/share/doc/knoblink/README.md",
                 "/usr/share/doc/knoblink/docs/install.md", "/usr/share/doc/knoblink/examples/knobbox.yaml",
                 "/usr/share/doc/knoblink/udev/71-knoblink-autostart.rules", "/usr/share/doc/knoblink/LICENSE"):
        assert path in installed, path
        assert os.path.isfile(path), path
    r = run("/usr/bin/knoblink", "--version")
    assert r.returncode == 0 and r.stdout == f"knoblink {version()}\n", (r.stdout, r.stderr)
    # installed, it has no RPATH (the zip's $ORIGIN/lib is for bin/lib/)
    assert "RPATH" not in run("readelf", "-d", "/usr/bin/knoblink").stdout


def test_user_unit_verifies(installed, tmp_path):
    unit = pathlib.Path("/usr/lib/systemd/user/knoblink.service").read_text()
    assert re.search(r"^ExecStart=/usr/bin/knoblink run$", unit, re.M), unit
    assert shutil.which("systemd-analyze"), "systemd-analyze missing (package systemd)"
    run_dir = tmp_path / "run"
    run_dir.mkdir(mode=0o700)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(run_dir)}
    r = run("systemd-analyze", "--user", "--man=no", "verify", "/usr/lib/systemd/user/knoblink.service", env=env)
    assert r.returncode == 0 and r.stderr.strip() == "", (r.returncode, r.stdout, r.stderr)


def test_run_without_a_mapping_file_names_the_default(installed, tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    r = run("/usr/bin/knoblink", "run", env=env)
    assert r.returncode == 1
    assert f"{tmp_path}/cfg/knoblink/knoblink.yaml does not exist" in r.stderr, r.stderr
