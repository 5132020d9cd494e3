"""The bundled bridge (docs/install.md, "The extension starts the bridge"): the
extension zip brings the knoblink executable in bin/; the add-on starts it with
the mapping file of its preferences and the port it listens on, restarts it
when it dies (with backoff), and stops it with the add-on (unregister, and
atexit for a Blender that quits without unregistering). No bpy here:
__init__.py passes the paths and the port, ui.py calls draw().

The child gets a fixed argv (never a shell):
    bin/knoblink run --config FILE --blender-port PORT --exit-with-parent
"""

import atexit
import collections
import os
import shutil
import stat
import subprocess
import sys
import threading
import time

# Seconds to wait before restart N (the last one repeats); a run that lasted
# STABLE_S starts the sequence again.
BACKOFF_S = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0)
STABLE_S = 30.0
STOP_TIMEOUT_S = 3.0
LOG_LINES = 40

# Variables of Blender's own environment that must not reach the bridge: a
# library path or preload meant for Blender would change the libraries it loads.
_DROP_ENV = ("LD_LIBRARY_PATH", "LD_PRELOAD", "PYTHONPATH", "PYTHONHOME")


def bundled_executable(addon_dir):
    """<addon_dir>/bin/knoblink when the install brings one, else None."""
    exe = os.path.join(addon_dir, "bin", "knoblink")
    return exe if os.path.isfile(exe) else None


def default_config(environ=None):
    """$XDG_CONFIG_HOME/knoblink/knoblink.yaml, else ~/.config/knoblink/knoblink.yaml
    (what `knoblink run` without --config reads)."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_CONFIG_HOME") or ""
    if not os.path.isabs(base):
        base = os.path.join(env.get("HOME") or os.path.expanduser("~"), ".config")
    return os.path.join(base, "knoblink", "knoblink.yaml")


def ensure_config(path, example):
    """Create path from the example mapping when it does not exist yet (first
    use); never overwrite. Returns True when it was created."""
    if os.path.exists(path):
        return False
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    shutil.copyfile(example, tmp)
    os.replace(tmp, path)
    return True


def make_executable(exe):
    """A zip keeps no file modes (Blender extracts without them): set u+x, g+x, o+x."""
    mode = os.stat(exe).st_mode
    want = mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH
    if not os.access(exe, os.X_OK) or mode != want:
        os.chmod(exe, want)


def argv(exe, config, port):
    """The bridge's command line."""
    return [exe, "run", "--config", config, "--blender-port", str(port), "--exit-with-parent"]


class Supervisor:
    """Runs one bridge process and keeps it running until stop().

    state: "starting", "running", "restarting in N s (exit code C)", "stopped",
    or "error: ..." when it cannot be started at all (then no retries: the
    preferences or the install must change). lines: its last LOG_LINES lines
    of output (stdout and stderr), also echoed to Blender's stderr."""

    def __init__(self, exe, config, port, backoff=BACKOFF_S, stable_s=STABLE_S, echo=True):
        self.exe, self.config, self.port = exe, config, port
        self.argv = argv(exe, config, port)
        self.backoff, self.stable_s, self.echo = tuple(backoff), stable_s, echo
        self.lines = collections.deque(maxlen=LOG_LINES)
        self.state = "stopped"
        self.pid = None
        self.starts = 0  # processes started so far
        self.last_exit = None
        self._proc = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None

    # ------------------------------------------------------------ lifecycle
    def start(self):
        """Start the bridge and the thread that restarts it. The process is
        spawned from that thread, which lives as long as the process does
        (--exit-with-parent follows the thread that started it)."""
        problem = self._problem()
        if problem:
            self.state = f"error: {problem}"
            self._log(self.state)
            return False
        self._stop.clear()
        self.state = "starting"
        self._thread = threading.Thread(target=self._supervise, name="knoblink-bridge", daemon=True)
        self._thread.start()
        return True

    def stop(self, timeout=STOP_TIMEOUT_S):
        """Stop it: SIGTERM (the bridge's ordinary stop), SIGKILL after timeout."""
        self._stop.set()
        with self._lock:
            proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._log(f"pid {proc.pid} did not stop within {timeout:.0f} s: killed")
                proc.kill()
                proc.wait(timeout)
            self._log(f"stopped pid {proc.pid} (exit code {proc.returncode})")
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self._thread = None
        if not self.state.startswith("error"):
            self.state = "stopped"
        self.pid = None

    def alive(self):
        with self._lock:
            return self._proc is not None and self._proc.poll() is None

    # ------------------------------------------------------------ the thread
    def _problem(self):
        if not self.exe or not os.path.isfile(self.exe):
            return f"no bridge executable at {self.exe}"
        if not os.path.isfile(self.config):
            return f"the mapping file {self.config} does not exist (choose one in the preferences)"
        try:
            make_executable(self.exe)
        except OSError as e:
            return f"cannot make {self.exe} executable: {e.strerror}"
        return ""

    def _spawn(self):
        env = {k: v for k, v in os.environ.items() if k not in _DROP_ENV}
        try:
            proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, env=env, close_fds=True,
                                    start_new_session=True)  # Ctrl-C in Blender's terminal is for Blender
        except OSError as e:
            self._log(f"cannot start {self.exe}: {e.strerror}")
            return None
        with self._lock:
            self._proc = proc
            if self._stop.is_set():  # stop() ran while we spawned: it saw no process to stop
                proc.terminate()
        self.pid = proc.pid
        self.starts += 1
        self.state = "running"
        self._log(f"started pid {proc.pid}: {' '.join(self.argv)}")
        return proc

    def _supervise(self):
        failures = 0
        while not self._stop.is_set():
            t0 = time.monotonic()
            proc = self._spawn()
            if proc is not None:
                for raw in proc.stdout:  # until the process closes its output (it exited)
                    self._log(raw.decode("utf-8", "replace").rstrip("\n"), echo_prefix="bridge")
                proc.stdout.close()
                code = proc.wait()
                self.last_exit = code
                if self._stop.is_set():
                    break
                failures = 0 if time.monotonic() - t0 >= self.stable_s else failures + 1
            else:
                code = None
                failures += 1
            delay = self.backoff[min(max(failures - 1, 0), len(self.backoff) - 1)]
            self.state = f"restarting in {delay:g} s (exit code {code})"
            self._log(f"the bridge exited (code {code}); {self.state}")
            self.pid = None
            self._stop.wait(delay)

    def _log(self, line, echo_prefix="bridge-process"):
        self.lines.append(line)
        if self.echo:
            print(f"knoblink-{echo_prefix}: {line}", file=sys.stderr, flush=True)

    # ------------------------------------------------------------ UI
    def summary(self):
        """One line: state, pid, mapping file."""
        pid = f" (pid {self.pid})" if self.pid and self.state == "running" else ""
        return f"Bridge: {self.state}{pid}"

    def draw(self, layout, lines=5):
        """The bridge's box in the panel and the preferences (layout: a Blender UILayout)."""
        box = layout.box()
        icon = "CHECKMARK" if self.state == "running" else ("ERROR" if self.state.startswith("error") else "TIME")
        box.label(text=self.summary(), icon=icon)
        box.label(text=f"Mapping: {self.config}")
        for line in list(self.lines)[-lines:]:
            box.label(text=line)


# ---------------------------------------------------------------- module state

current = None  # the running Supervisor; read it through running()


def running():
    return current


def start(exe, config, port, **kw):
    """Start (or restart) the bundled bridge."""
    global current
    stop()
    current = Supervisor(exe, config, port, **kw)
    current.start()
    return current


def stop():
    """Stop the bundled bridge, if one runs (unregister(), and at exit)."""
    global current
    if current is not None:
        current.stop()
        # Keep a stopped one whose start failed, so the panel still says why.
        if not current.state.startswith("error"):
            current = None


def forget():
    """Stop and forget it (the preference to run it is off)."""
    global current
    stop()
    current = None


atexit.register(stop)
