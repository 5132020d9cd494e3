"""The discovery file (docs/security.md, "Who may connect"): where a running
add-on says which port it listens on and which token a client must send.

    <run>/knoblink/blender-<port>.json     <run> = $XDG_RUNTIME_DIR, else $HOME/.cache
    {"port":P,"token":"...","pid":N,"blender":"3.4.1","file":"/abs/path.blend or empty","started":T}

The folder is created 0700 and the file 0600 (another local user can neither
list nor read them); the file is written to a temporary name in the same
folder and renamed over the old one, so a reader sees the old or the new
content, never a half-written one. No bpy here: link.py passes the values.
"""

import json
import os
import re
import secrets
import stat

_NAME = re.compile(r"blender-\d+\.json")

DIR_MODE = 0o700
FILE_MODE = 0o600


def new_token():
    """A random token of 192 bits, URL-safe text (32 characters)."""
    return secrets.token_urlsafe(24)


def run_dir(environ=None):
    """<run>: $XDG_RUNTIME_DIR when set and non-empty, else $HOME/.cache."""
    env = os.environ if environ is None else environ
    run = env.get("XDG_RUNTIME_DIR") or ""
    if not run:
        home = env.get("HOME") or os.path.expanduser("~")
        run = os.path.join(home, ".cache")
    return run


def folder(environ=None):
    """<run>/knoblink."""
    return os.path.join(run_dir(environ), "knoblink")


def path_for(port, environ=None):
    """<run>/knoblink/blender-<port>.json."""
    return os.path.join(folder(environ), f"blender-{port}.json")


def content(port, token, pid, blender, file, started):
    """The file's exact text (one JSON object, no spaces, a newline)."""
    return json.dumps({"port": port, "token": token, "pid": pid, "blender": blender, "file": file,
                       "started": started}, separators=(",", ":"), ensure_ascii=False) + "\n"


def _private_folder(path):
    """Create path 0700 (and its parents) or check an existing one: a real
    folder (not a symlink) owned by this user; group/other bits are removed."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    try:
        os.mkdir(path, DIR_MODE)
    except FileExistsError:
        pass
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode):
        raise OSError(f"{path} is not a folder (a symlink or a file); not writing the token there")
    if st.st_uid != os.getuid():
        raise OSError(f"{path} belongs to uid {st.st_uid}, not to this user; not writing the token there")
    if stat.S_IMODE(st.st_mode) != DIR_MODE:
        os.chmod(path, DIR_MODE)


def write(path, text):
    """Write text to path atomically, 0600, in a 0700 folder. Raises OSError with the reason."""
    d = os.path.dirname(path)
    _private_folder(d)
    tmp = os.path.join(d, f".{os.path.basename(path)}.{os.getpid()}.tmp")
    try:
        os.unlink(tmp)
    except FileNotFoundError:
        pass
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def read(path):
    """The parsed file, or None when it is missing or not a discovery file."""
    try:
        with open(path, encoding="utf-8") as f:
            obj = json.load(f)
    except (OSError, ValueError):
        return None
    return obj if isinstance(obj, dict) else None


def remove(path, token):
    """Remove path if it is still ours (its token is token); True if removed."""
    obj = read(path)
    if obj is None or obj.get("token") != token:
        return False
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    return True


def pid_alive(pid):
    """Whether a process pid exists (another user's counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale(folder_path, alive=pid_alive):
    """Remove the discovery files in folder_path whose Blender is gone (killed,
    crashed: it could not remove its own). Returns the paths removed."""
    removed = []
    try:
        names = os.listdir(folder_path)
    except FileNotFoundError:
        return removed
    for name in names:
        if not _NAME.fullmatch(name):
            continue
        path = os.path.join(folder_path, name)
        obj = read(path)
        pid = obj.get("pid") if obj else None
        if isinstance(pid, int) and not isinstance(pid, bool) and pid > 0 and not alive(pid):
            try:
                os.unlink(path)
            except FileNotFoundError:
                continue
            removed.append(path)
    return removed
