"""When a recorded frame ended and what a value was then (docs/protocol.md,
"Record", "The value of a frame"). No bpy: the tests drive it with made-up
clocks, and record.py feeds it the moments Blender changed frames and the
times the values were received.

A take keys the newest value of each frame. When Blender draws slowly
(software GL, a heavy scene) it changes frames 20-70 ms apart instead of
every 41.7 ms, and the values arrive at the controller's own pace: the newest
value of a frame then carries both timings as steps of their own, and the
curve zigzags around the move the hand made. So when a take ends, a float's
key takes the value it had when its frame ended on the playback clock: a line
fitted through the moments the frames changed (over a second around the
frame), the values interpolated linearly by the time they were received."""

import bisect
from array import array

MOTION_GAP = 0.25  # s: two values further apart than this are a rest and a new move, not one motion


class FrameClock:
    """The moments the frames of one take changed, in runs in which the frame
    only rose (looped playback or a jump starts a new run)."""

    def __init__(self, fps):
        self.fps = fps if fps > 0 else 24.0
        self.runs = [([], array("d"))]  # per run: frames (rising), the times they began
        self.jump = max(round(self.fps), 10)  # frames: a step further than this is a jump
        self._ends = {}  # (run, frame) -> end(): every channel of a take asks for the same frames

    @property
    def run(self):
        """The current run's index."""
        return len(self.runs) - 1

    def changed(self, frame, t):
        """The frame became frame at time t."""
        frames, times = self.runs[-1]
        if frames and not 0 < frame - frames[-1] <= self.jump:
            if frame == frames[-1]:
                return  # set to the frame it was
            self.runs.append(([], array("d")))
            frames, times = self.runs[-1]
        frames.append(frame)
        times.append(t)
        self._ends.clear()

    def end(self, run, frame):
        """When frame ended in run: the fitted line at frame + 1 (where the next
        frame began), or None when the run has no time."""
        key = (run, frame)
        if key not in self._ends:
            self._ends[key] = self._fit(run, frame)
        return self._ends[key]

    def _fit(self, run, frame):
        frames, times = self.runs[run]
        if not frames:
            return None
        w = max(round(self.fps), 4)
        lo, hi = bisect.bisect_left(frames, frame - w), bisect.bisect_right(frames, frame + w)
        n = hi - lo
        if n >= 2:
            mf = sum(frames[lo:hi]) / n
            mt = sum(times[lo:hi]) / n
            var = sum((f - mf) ** 2 for f in frames[lo:hi])
            slope = sum((f - mf) * (t - mt) for f, t in zip(frames[lo:hi], times[lo:hi])) / var
            if slope > 0:
                return mt + slope * (frame + 1 - mf)
        i = min(max(bisect.bisect_left(frames, frame), 0), len(frames) - 1)  # the nearest known frame
        return times[i] + (frame + 1 - frames[i]) / self.fps


class Values:
    """One target's values in a take, by the time they were received (kept rising)."""

    __slots__ = ("t", "v")

    def __init__(self):
        self.t, self.v = array("d"), array("d")

    def __len__(self):
        return len(self.t)

    def add(self, t, v):
        if self.t and t < self.t[-1]:
            t = self.t[-1]  # two clients' lines out of order: applied in this order
        self.t.append(t)
        self.v.append(v)

    def at(self, when):
        """The value at time when: linear between the values received around it,
        the earlier one across a rest (MOTION_GAP), the first or last outside them."""
        i = bisect.bisect_right(self.t, when) - 1
        if i < 0:
            return self.v[0]
        if i + 1 >= len(self.t):
            return self.v[i]
        ta, tb = self.t[i], self.t[i + 1]
        if tb - ta > MOTION_GAP or tb <= ta:
            return self.v[i]
        return self.v[i] + (self.v[i + 1] - self.v[i]) * (when - ta) / (tb - ta)
