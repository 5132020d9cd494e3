"""Keeps Blender's main loop awake while commands arrive (docs/performance.md,
"Wake-up: below Blender's idle floor").

Blender's main loop sleeps 5 ms after every pass that handled no event, so a
bpy.app.timers drain sees a new command 0-5 ms after it arrived. A window
manager event timer with interval 0 puts an event into every pass, and the
loop stops sleeping. Held all the time that would burn a core; so it is held
only while commands are applied and for idle_s after the last one, then
removed, and an idle Blender sleeps as before. While awake, a pass that leaves
nothing queued naps 0.2 ms (nap(), from the drain timer) instead of Blender's 5 ms.

No operator is involved: a bare event timer on a window keeps the loop as
awake as one held by a modal operator (measured, docs/performance.md), and
without a modal handler there is nothing a file load can kill, autosave waits
for, or a quit has to cancel. Main thread only: link.py's drain calls touch()
after it applied a command and poll() on every drain. Background Blender and
the bpy module have no window: touch() does nothing there.
"""

import sys
import time

import bpy

# How often poll() checks that the timer's window still exists (seconds).
_CHECK_WINDOW_S = 0.05
# Python's GIL switch interval while awake. The awake main thread takes and drops the
# GIL thousands of times a second and mostly wins it back at once, so the socket
# thread (which parses and queues each line) can wait for a forced switch: up to the
# default 5 ms, the very delay the wake-up removes. Restored when the loop sleeps again.
# (Its effect is not yet measured apart from the scheduler's: docs/performance.md.)
_SWITCH_S = 0.0002


# While awake and nothing is queued, each pass naps this long instead of Blender's 5 ms.
# The loop then stays a sleeper to the kernel's scheduler: on a busy machine a loop that
# never sleeps is preempted for a whole slice (tens of ms), one that naps is woken at
# once; and the nap releases the GIL for the socket thread.
_NAP_S = 0.0002


class Wake:
    """The event timer that keeps the loop awake. idle_s: how long after the
    last touch() it is held (0: never woken, Blender sleeps as it always did)."""

    def __init__(self, idle_s):
        self.idle_s = idle_s
        self.wakeups = 0  # how many times it woke the loop (panel, tests)
        self.error = ""  # why it could not wake, if it could not
        self._timer = None
        self._window = 0  # as_pointer() of the window whose timer list holds it
        self._last = 0.0
        self._checked = 0.0
        self._switch = None  # the switch interval to restore, while awake

    @property
    def awake(self):
        return self._timer is not None

    def summary(self):
        """What the panel says of it (docs/blender.md, "The panel")."""
        if self.error:
            return f"Wake-up: cannot wake: {self.error}"
        if self.idle_s <= 0:
            return "Wake-up: off (Blender sleeps 5 ms between idle passes)"
        if bpy.app.background:
            return "Wake-up: not in background Blender"
        state = "awake" if self.awake else "asleep"
        return f"Wake-up: {state} ({self.wakeups} since start, held {self.idle_s * 1000:.0f} ms)"

    def touch(self, now):
        """Commands were applied at now (time.monotonic()): stay awake until now + idle_s."""
        self._last = now
        if self._timer is None and self.idle_s > 0 and not bpy.app.background:
            self._start(now)

    def poll(self, now):
        """On every drain. Ends the wake-up once idle_s has passed since the
        last touch(); returns True on the drain where it ended."""
        if self._timer is None:
            return False
        if now - self._last >= self.idle_s:
            self.stop()
            return True
        if now - self._checked >= _CHECK_WINDOW_S:
            self._checked = now
            if self._find_window() is None:
                # Closed with its window (which freed its timers): wake on another one.
                self._timer = None
                self._start(now)
        return False

    def nap(self):
        """After a drain that left nothing queued, while awake: a short sleep."""
        if self._timer is not None:
            time.sleep(_NAP_S)

    def stop(self):
        """Remove the timer (add-on stopping, a file about to load, idle)."""
        if self._switch is not None:
            sys.setswitchinterval(self._switch)
            self._switch = None
        timer, self._timer = self._timer, None
        if timer is None:
            return
        wm = self._window_manager()
        # A window that closed took its timers with it: never hand Blender a freed one.
        if wm is not None and self._find_window(wm) is not None:
            try:
                wm.event_timer_remove(timer)
            except (ReferenceError, RuntimeError, TypeError) as e:
                self.error = f"cannot remove the wake-up timer: {e}"

    def _start(self, now):
        wm = self._window_manager()
        win = getattr(bpy.context, "window", None) or (wm.windows[0] if wm and wm.windows else None)
        if win is None:
            self.error = "no window to wake"
            return
        try:
            self._timer = wm.event_timer_add(0.0, window=win)
        except (ReferenceError, RuntimeError, TypeError) as e:
            self.error = f"cannot add the wake-up timer: {e}"
            return
        self._window = win.as_pointer()
        self._checked = now
        if self._switch is None:
            self._switch = sys.getswitchinterval()
            sys.setswitchinterval(min(self._switch, _SWITCH_S))
        self.wakeups += 1
        self.error = ""

    def _find_window(self, wm=None):
        wm = wm or self._window_manager()
        if wm is None:
            return None
        for win in wm.windows:
            if win.as_pointer() == self._window:
                return win
        return None

    @staticmethod
    def _window_manager():
        try:
            return bpy.context.window_manager
        except AttributeError:  # bpy.context restricted (registration, quitting)
            return None
