"""What the KnobLink panel shows, without bpy (docs/blender.md): each bridge's
status and mappings (from its status and mappings lines, docs/protocol.md
"Status"), the last values of the mapped targets, the add-on's own errors, and
where the time goes in the add-on (received -> applied).

The socket thread feeds the bridges' lines, the main-thread drain the rest;
everything goes through one lock, and `version` counts the changes so the
panel is redrawn only when something changed. `snapshot()` is the whole state
as plain JSON values (the panel draws from it; tests read it)."""

import threading

SUB_BITS = 4           # 16 buckets per power of two: a percentile within 1/32 of the value
MAX_BITS = 31          # up to 2^31 us (~36 min); longer durations count in the last bucket
BUCKETS = ((MAX_BITS - SUB_BITS) << SUB_BITS) + (1 << SUB_BITS)
WINDOW_S = 5.0         # a stage's window: its figures follow what happens now
MAX_ERRORS = 8         # the last distinct errors kept, oldest first
MAX_VALUE_TEXT = 40    # characters of a value shown in the panel


def bucket(us):
    """The histogram bucket of a duration in microseconds (the bridge's
    bridge/latency.cpp uses the same buckets)."""
    if us < (2 << SUB_BITS):
        return max(0, int(us))
    us = int(us)
    if us >= 1 << MAX_BITS:
        return BUCKETS - 1
    shift = us.bit_length() - 1 - SUB_BITS
    return (shift << SUB_BITS) + (us >> shift)


def bucket_low(b):
    if b < (2 << SUB_BITS):
        return b
    shift = (b >> SUB_BITS) - 1
    return (b - (shift << SUB_BITS)) << shift


class Histogram:
    """Fixed-size log-linear histogram of microsecond durations."""

    __slots__ = ("counts", "n", "max")

    def __init__(self):
        self.counts = [0] * BUCKETS
        self.n = 0
        self.max = 0

    def record(self, us):
        us = max(0, int(us))
        self.counts[bucket(us)] += 1
        self.n += 1
        if us > self.max:
            self.max = us

    def percentile(self, q):
        """The middle of the bucket holding the q-quantile (exact below 32 us), at most max."""
        if not self.n:
            return 0
        rank = -(-q * self.n // 1)  # ceil
        seen = 0
        for b, c in enumerate(self.counts):
            seen += c
            if c and seen >= rank:
                low = bucket_low(b)
                high = bucket_low(b + 1) if b + 1 < BUCKETS else low + 1
                return min(low + (high - low - 1) // 2, self.max)
        return self.max

    def summary(self):
        return {"n": self.n, "p50_us": self.percentile(0.5), "p99_us": self.percentile(0.99),
                "max_us": self.max}


class Stage:
    """A measured stage: since the start, and windows of WINDOW_S seconds."""

    def __init__(self, name, now):
        self.name = name
        self.total = Histogram()
        self.window = Histogram()
        self.window_start = now
        self.last_window = Histogram().summary()

    def record(self, us):
        self.total.record(us)
        self.window.record(us)

    def roll(self, now):
        """Closes the window when WINDOW_S has passed; returns the report to send
        ({"ev":"latency",...}) when it held anything, else None."""
        if now - self.window_start < WINDOW_S:
            return None
        self.window_start = now
        self.last_window = self.window.summary()
        self.window = Histogram()
        return self.report() if self.last_window["n"] else None

    def report(self):
        return {"ev": "latency", "stage": self.name, "window_s": WINDOW_S, **self.last_window,
                "total": self.total.summary()}


class ErrorLog:
    """The last MAX_ERRORS distinct texts, oldest first; a repeat moves to the end, counted."""

    def __init__(self):
        self.entries = []

    def add(self, text, at):
        for i, e in enumerate(self.entries):
            if e["text"] == text:
                del self.entries[i]
                self.entries.append({"text": text, "count": e["count"] + 1, "at": at})
                return
        if len(self.entries) >= MAX_ERRORS:
            del self.entries[0]
        self.entries.append({"text": text, "count": 1, "at": at})


def value_text(v):
    """A watched value as the panel shows it: 3 decimals, vectors in parentheses."""
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, float):
        return f"{v:.3f}"
    if isinstance(v, list):
        return "(" + ", ".join(value_text(x) for x in v) + ")"
    return str(v)[:MAX_VALUE_TEXT]


class PanelState:
    """The live panel's data. Bridges are keyed by their connection's number."""

    def __init__(self, now=0.0):
        self._lock = threading.Lock()
        self.version = 0
        self.bridges = {}  # client number -> {"peer", "status", "mappings", "file"}
        self.values = {}   # mapped target path -> its value (JSON), read by the drain
        self.errors = ErrorLog()  # the add-on's own
        self.applied = Stage("received_to_applied", now)
        self.redraws = 0   # panel redraws asked for (the link counts them)

    # ------------------------------------------------------------ the socket thread
    def on_status(self, client, peer, status):
        with self._lock:
            self._bridge(client, peer)["status"] = status
            self.version += 1

    def on_mappings(self, client, peer, mappings):
        with self._lock:
            b = self._bridge(client, peer)
            b["mappings"], b["file"] = mappings["mappings"], mappings["file"]
            self.version += 1

    def on_closed(self, client):
        with self._lock:
            if self.bridges.pop(client, None) is not None:
                self.version += 1

    def _bridge(self, client, peer):
        return self.bridges.setdefault(client, {"peer": peer, "status": None, "mappings": [], "file": ""})

    # ------------------------------------------------------------ the drain
    def mapped_paths(self):
        """Every data path a bridge maps (the drain reads their values; a call's target
        is an operator, not a path)."""
        with self._lock:
            return {m["target"] for b in self.bridges.values() for m in b["mappings"] if m["does"] != "call"}

    def set_values(self, values):
        """values: path -> JSON value; only changes count."""
        with self._lock:
            changed = {p: v for p, v in values.items() if self.values.get(p, object()) != v}
            if changed:
                self.values.update(changed)
                self.version += 1

    def add_error(self, text, at):
        with self._lock:
            self.errors.add(text, at)
            self.version += 1

    def roll(self, now):
        """Closes the add-on's latency window; returns the report for the bridges, or None."""
        with self._lock:
            report = self.applied.roll(now)
            if report is not None:
                self.version += 1
            return report

    # ------------------------------------------------------------ readers
    def snapshot(self):
        """The whole state as JSON values (the panel draws it; tests read it)."""
        with self._lock:
            bridges = []
            for client, b in sorted(self.bridges.items()):
                maps = [{**m, "value": self.values.get(m["target"])} for m in b["mappings"]]
                bridges.append({"client": client, "peer": b["peer"], "file": b["file"],
                                "status": b["status"], "mappings": maps})
            return {"version": self.version, "bridges": bridges,
                    "errors": [dict(e) for e in self.errors.entries],
                    "latency": {"received_to_applied": {**self.applied.last_window,
                                                        "window_s": WINDOW_S,
                                                        "total": self.applied.total.summary()}},
                    "redraws": self.redraws}


def short_path(text):
    """A data path shortened for the narrow sidebar: bpy.data.objects["Cube"].location[0]
    -> Cube.location[0]; context.active_object.x -> active_object.x."""
    if text.startswith("bpy.data."):
        at = text.find('["')
        end = text.find('"]', at + 2) if at >= 0 else -1
        if at >= 0 and end >= 0:
            return text[at + 2:end] + text[end + 2:]
    if text.startswith("context."):
        return text[len("context."):]
    return text


def age_text(at, now):
    """Seconds since at, as the panel shows it: 'now', '12 s ago', '3 min ago'."""
    s = max(0.0, now - at)
    if s < 1.5:
        return "now"
    if s < 120:
        return f"{s:.0f} s ago"
    return f"{s / 60:.0f} min ago"


def ms_text(us):
    return f"{us / 1000:.2f} ms" if us < 100_000 else f"{us / 1e6:.2f} s"


def stage_text(stage):
    """'p50 0.08 ms  p99 0.41 ms (n 312, last 5 s)' from a stage's figures: the last window
    when it held anything, else everything since the start; '' when nothing was measured."""
    if not stage:
        return ""
    fig, when = stage, f"last {stage.get('window_s', WINDOW_S):g} s"
    if not fig.get("n"):
        fig, when = stage.get("total") or {}, "since start"
    if not fig.get("n"):
        return ""
    return f"p50 {ms_text(fig.get('p50_us', 0))}  p99 {ms_text(fig.get('p99_us', 0))} (n {fig['n']}, {when})"
