"""Exactly once (docs/protocol.md, "Exactly once"): the ids each client
session had applied and their first outcome, so that a command re-sent after
a reconnect (same session, any connection) is answered, not applied again.

No bpy, no clock: callers pass `now` (monotonic seconds). Used from two
threads: the socket thread claims ids as commands arrive, the main thread
finishes them once applied; one lock makes each call one step.
"""

import collections
import threading

# Ops whose effect a repeat would double; watch/unwatch belong to a connection
# (a reconnecting client must set them up again) and ping changes nothing.
OPS = frozenset(("set", "add", "toggle", "keyframe", "call", "batch"))

NEW, DONE, PENDING = "new", "done", "pending"


class _Slot:
    __slots__ = ("replies", "waiters", "t")

    def __init__(self, now):
        self.replies = None  # the reply objects of the first application, once known
        self.waiters = []  # connections that re-sent it while it was queued or being applied
        self.t = now


class AppliedIds:
    """Per session: id -> the replies its first application sent.

    Memory is bounded: a finished id is kept while it is among its session's
    last `keep` ids or younger than `keep_s` seconds, and never beyond `cap`
    ids per session; at most `max_sessions` sessions are kept (the least
    recently used one is forgotten first). An id still queued or being
    applied is never forgotten."""

    def __init__(self, keep=4096, keep_s=600.0, cap=16384, max_sessions=16):
        self.keep, self.keep_s, self.cap, self.max_sessions = keep, keep_s, cap, max_sessions
        self._sessions = collections.OrderedDict()  # session -> OrderedDict(id -> _Slot), oldest first
        self._lock = threading.Lock()
        self.repeats = 0  # re-sent ids answered without applying them again

    def __len__(self):
        with self._lock:
            return sum(len(ids) for ids in self._sessions.values())

    def claim(self, session, cid, conn, now):
        """A command with id cid arrived on conn in session. Returns
        (NEW, None): the caller applies it and later calls finish();
        (DONE, replies): it was applied, answer replies, apply nothing;
        (PENDING, None): it is queued or being applied; conn gets its
        replies from finish()."""
        with self._lock:
            ids = self._sessions.get(session)
            if ids is None:
                while len(self._sessions) >= self.max_sessions:
                    self._sessions.popitem(last=False)
                ids = self._sessions[session] = collections.OrderedDict()
            else:
                self._sessions.move_to_end(session)
            slot = ids.get(cid)
            if slot is None:
                ids[cid] = _Slot(now)
                return NEW, None
            self.repeats += 1
            if slot.replies is not None:
                return DONE, list(slot.replies)
            slot.waiters.append(conn)
            return PENDING, None

    def finish(self, session, cid, replies, now):
        """The first application of cid answered replies (a list of reply
        objects). Returns the connections waiting for the same replies.
        An id that was never claimed (or whose session was forgotten) is ignored."""
        with self._lock:
            ids = self._sessions.get(session)
            slot = ids.get(cid) if ids is not None else None
            if slot is None or slot.replies is not None:
                return []
            slot.replies, slot.t = list(replies), now
            waiters, slot.waiters = slot.waiters, []
            self._forget_old(ids, now)
            return waiters

    def drop(self, session, cid):
        """Forget cid if it was claimed but never finished (its command was
        discarded unapplied: the link stopped with it queued), so that a
        re-send is applied rather than waiting forever."""
        with self._lock:
            ids = self._sessions.get(session)
            slot = ids.get(cid) if ids is not None else None
            if slot is not None and slot.replies is None:
                del ids[cid]

    def _forget_old(self, ids, now):
        while len(ids) > self.keep:
            cid, slot = next(iter(ids.items()))
            if slot.replies is None or (now - slot.t < self.keep_s and len(ids) <= self.cap):
                return
            del ids[cid]
