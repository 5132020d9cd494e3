"""The queue between the socket thread and the main-thread drain, with
Contract 2's coalescing (docs/protocol.md, "Ordering, coalescing and the
drain"), and the undo-gesture policy of the drain. No bpy, no clock:
callers pass time in.

Named cmdqueue, not queue: a module called queue would shadow the standard
library's queue (which threading-based code imports) wherever this folder
is on sys.path, and "import queue" would read as the standard one."""

import collections
import threading


class Entry:
    """A queued command and everyone waiting for its outcome: replies is a
    list of (connection, id or None) merged into this entry."""

    __slots__ = ("cmd", "value", "replies")

    def __init__(self, cmd, conn):
        self.cmd = cmd
        self.value = cmd.value
        self.replies = [(conn, cmd.id)]


class CommandQueue:
    """Bounded FIFO between the socket thread (push) and the main thread (pop).

    Coalescing (Contract 2), per path, among entries not yet popped:
    a set replaces a pending set/add on the same path (newest value wins,
    keeping the older entry's place); an add is summed into a pending add.
    Every other command (toggle, keyframe, call, batch, watch, unwatch) is a
    barrier for every path: paths overlap (location and location[0]), so no
    set or add is merged across a discrete command on any path."""

    def __init__(self, capacity=65536):
        self.capacity = capacity
        self._q = collections.deque()
        self._open = {}
        self._lock = threading.Lock()
        self.received = 0
        self.merged = 0

    def __len__(self):
        return len(self._q)

    def full(self):
        return len(self._q) >= self.capacity

    def push(self, cmd, conn):
        op = cmd.op
        with self._lock:
            self.received += 1
            if op == "set" or op == "add":
                key = cmd.path.text
                e = self._open.get(key)
                if e is not None and (op == "set" or e.cmd.op == "add"):
                    if op == "set":
                        e.cmd, e.value = cmd, cmd.value
                    else:
                        e.value += cmd.value
                        e.cmd.t = cmd.t  # the sum is the value as of the newest line
                    e.replies.append((conn, cmd.id))
                    self.merged += 1
                    return
                e = Entry(cmd, conn)
                self._q.append(e)
                self._open[key] = e
                return
            self._open.clear()
            self._q.append(Entry(cmd, conn))

    def pop(self):
        """The oldest entry, or None; once popped it no longer merges."""
        with self._lock:
            if not self._q:
                return None
            e = self._q.popleft()
            if e.cmd.path is not None and self._open.get(e.cmd.path.text) is e:
                del self._open[e.cmd.path.text]
            return e


class GestureTracker:
    """Groups changes into undo steps: a path's gesture ends once it has rested
    `rest` seconds. Discrete commands end their gesture at once."""

    def __init__(self, rest=0.3):
        self.rest = rest
        self._last = {}
        self._now_due = []

    def touch(self, key, now):
        self._last[key] = now

    def end(self, key):
        """A discrete change on key: due at the next due() call."""
        self._last.pop(key, None)
        self._now_due.append(key)

    def pending(self):
        return len(self._last) + len(self._now_due)

    def flush(self):
        """Every open gesture, ended now, in order (they are forgotten)."""
        out = self._now_due + list(self._last)
        self._now_due = []
        self._last.clear()
        return out

    def due(self, now):
        """Keys whose gesture ended, in order; they are forgotten."""
        out = self._now_due
        self._now_due = []
        for key, t in list(self._last.items()):
            if now - t >= self.rest:
                del self._last[key]
                out.append(key)
        return out
