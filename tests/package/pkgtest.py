"""Shared by the package tests: scripts/package run on the build tree under test."""

import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def build_zip(out_dir):
    """scripts/package --out out_dir on $KNOBLINK_BINARY_DIR; the zip's path."""
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "package"), "--build-dir",
                        os.environ["KNOBLINK_BINARY_DIR"], "--out", str(out_dir)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    zips = list(pathlib.Path(out_dir).glob("knoblink-*-linux-x64.zip"))
    assert len(zips) == 1, zips
    return zips[0]
