"""The executable the extension zip bundles runs on a stock Debian 12 / Ubuntu 22.04+
without our build tree or our -dev packages (docs/install.md, "What the executable needs"):

- `ldd` of the extracted bin/knoblink lists only the libraries of a stock desktop system
  (glibc, the GCC runtime, libudev, libasound) or ones the zip brings in bin/lib/;
- no symbol needs a glibc newer than Ubuntu 22.04's (2.35) or a libstdc++ newer than its
  GLIBCXX_3.4.30, in the executable and in every bundled library;
- in a chroot holding only those stock libraries and the extracted zip, `knoblink --version`
  and `knoblink check` on the bundled example work (root only: CI runs as root).
"""

import os
import pathlib
import re
import shutil
import subprocess
import sys
import zipfile

import pytest

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from pkgtest import build_zip  # noqa: E402

# What a stock system has, written out here (not taken from scripts/package).
STOCK = {"linux-vdso.so.1", "ld-linux-x86-64.so.2", "libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2",
         "librt.so.1", "libstdc++.so.6", "libgcc_s.so.1", "libudev.so.1", "libasound.so.2"}
MAX_GLIBC = (2, 35)      # Ubuntu 22.04
MAX_GLIBCXX = (3, 4, 30)  # Ubuntu 22.04's libstdc++6 (GCC 12)


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("portable")
    zip_path = build_zip(tmp / "dist")
    with zipfile.ZipFile(zip_path) as z:
        z.extractall(tmp / "ext")  # as Blender does: no file modes
    ext = tmp / "ext" / "knoblink"
    os.chmod(ext / "bin" / "knoblink", 0o755)  # what bridge_process.make_executable does
    return ext


def ldd(path):
    out = subprocess.run(["ldd", str(path)], capture_output=True, text=True, check=True).stdout
    libs = {}
    for line in out.splitlines():
        line = line.strip()
        if "=>" in line:
            name, _, rest = line.partition("=>")
            libs[name.strip()] = rest.strip().split(" (")[0]
        elif line:
            p = line.split(" (")[0]
            libs[os.path.basename(p)] = p
    return libs


def test_ldd_lists_only_stock_or_bundled_libraries(extracted):
    libs = ldd(extracted / "bin" / "knoblink")
    bundled_dir = str(extracted / "bin" / "lib")
    bad = {n: p for n, p in libs.items()
           if p == "not found" or not (n in STOCK or os.path.dirname(p) == bundled_dir)}
    assert not bad, f"not stock and not bundled: {bad}\nall: {libs}"
    # the bundled ones are really loaded from the zip (RPATH $ORIGIN/lib), e.g. JACK and spdlog
    assert libs.get("libjack.so.0", "").startswith(bundled_dir), libs
    assert libs.get("libspdlog.so.1.10", "").startswith(bundled_dir), libs
    for gone in ("libyaml-cpp", "libserialport", "libhidapi", "librtmidi", "liblo"):  # linked in statically
        assert not any(n.startswith(gone) for n in libs), libs


def _versions(path, prefix):
    out = subprocess.run(["objdump", "-T", str(path)], capture_output=True, text=True, check=True).stdout
    return {tuple(int(x) for x in v.split(".")) for v in re.findall(rf"\b{prefix}_([0-9.]+[0-9])\b", out)}


def test_no_symbol_newer_than_ubuntu_22_04(extracted):
    files = [extracted / "bin" / "knoblink", *sorted((extracted / "bin" / "lib").iterdir())]
    for f in files:
        glibc, glibcxx = _versions(f, "GLIBC"), _versions(f, "GLIBCXX")
        assert glibc and max(glibc) <= MAX_GLIBC, (f, sorted(glibc)[-3:])
        assert not glibcxx or max(glibcxx) <= MAX_GLIBCXX, (f, sorted(glibcxx)[-3:])


@pytest.mark.skipif(os.geteuid() != 0, reason="chroot needs root (CI runs as root)")
def test_runs_in_a_root_with_only_stock_libraries(extracted, tmp_path):
    root = tmp_path / "root"
    libdir = root / "lib" / "x86_64-linux-gnu"
    libdir.mkdir(parents=True)
    (root / "lib64").mkdir()
    for name, path in ldd(extracted / "bin" / "knoblink").items():
        if name in STOCK and name != "linux-vdso.so.1":
            dest = root / "lib64" / name if name.startswith("ld-linux") else libdir / name
            shutil.copyfile(os.path.realpath(path), dest)
            os.chmod(dest, 0o755)
    shutil.copytree(extracted, root / "ext", symlinks=True)
    (root / "tmp").mkdir()
    (root / "proc").mkdir()  # the loader finds $ORIGIN through /proc/self/exe, as on any system
    # nothing from /usr: only the stock libraries above and the zip's own files
    assert not (root / "usr").exists()
    subprocess.run(["mount", "-t", "proc", "proc", str(root / "proc")], check=True)
    try:
        _run_in(root)
    finally:
        subprocess.run(["umount", "-l", str(root / "proc")], check=True)


def _run_in(root):
    chroot = shutil.which("chroot", path=f"/usr/sbin:/sbin:{os.environ.get('PATH', '')}")
    assert chroot, "no chroot (coreutils)"
    r = subprocess.run([chroot, str(root), "/ext/bin/knoblink", "--version"], capture_output=True, text=True,
                       timeout=30, env={"PATH": "/ext/bin", "HOME": "/tmp"})
    assert r.returncode == 0 and re.fullmatch(r"knoblink \d+\.\d+\.\d+\n", r.stdout), (r.returncode, r.stdout,
                                                                                       r.stderr)
    r = subprocess.run([chroot, str(root), "/ext/bin/knoblink", "check", "/ext/examples/knobbox.yaml"],
                       capture_output=True, text=True, timeout=30, env={"PATH": "/ext/bin", "HOME": "/tmp"})
    assert r.returncode == 0 and "ok (1 devices," in r.stdout, (r.returncode, r.stdout, r.stderr)
