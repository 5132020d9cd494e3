"""Recording (docs/protocol.md, "Record"): while recording is on and the
timeline plays, every set/add the drain applies is also keyed on its target
at the current frame; when the take ends (recording off or playback stopped)
the keys it wrote are thinned and the take becomes one undo step.

Keying happens in the drain, not in a frame_change_post handler: the drain
holds the resolved targets (which passed policy.py as writes) and the values
it just wrote, while after a frame change Blender has already put the
F-curve's value back into the property. The targets of one drain are keyed
once at its end; a later drain in the same frame keys that frame again
(replacing the key), so each target gets one key per frame with the newest
value. When the take ends, a float's keys take the value at their frame's end
on the playback clock (takeclock.py), and are thinned (thinning.py); this
module does the bpy part. The composition root (link.py) calls begin_drain(),
note(), end_drain() and, from a frame_change_pre handler, frame_changed()."""

import time

import bpy

from . import apply, protocol, takeclock, thinning
from .protocol import ProtocolError

NUMERIC = ("FLOAT", "INT", "BOOLEAN")


def playing():
    """Whether the timeline plays (in any window; never in background Blender)."""
    wm = bpy.context.window_manager
    for win in wm.windows if wm is not None else ():
        screen = win.screen
        if screen is not None and screen.is_animation_playing:
            return True
    return False


class Channel:
    """One animated value of a take: an ID (found again by name: bpy pointers
    are never kept past a drain), the F-curve's data path and array index, and
    the value recorded at each frame."""

    __slots__ = ("id_key", "data_path", "index", "samples", "text", "smooth", "values")

    def __init__(self, id_key, data_path, index, text, smooth):
        self.id_key, self.data_path, self.index, self.text = id_key, data_path, index, text
        self.samples = {}  # frame -> (value keyed there: the newest of that frame, when it was received, the clock's run)
        self.smooth = smooth  # a float: its keys take the value at their frame's end (takeclock.py)
        self.values = takeclock.Values()  # every value, by receive time

    def recorded(self, clock):
        """Frame -> the value recorded there: for a float, at the frame's end, or when its
        newest value arrived if that was later (no value is lost); else the newest."""
        out = {}
        for f, (v, t, run) in self.samples.items():
            when = clock.end(run, f) if self.smooth else None
            out[f] = v if when is None else self.values.at(max(when, t))
        return out


class Take:
    __slots__ = ("channels", "first", "last", "skipped", "clock")

    def __init__(self, frame, fps, now):
        self.channels = {}  # (id pointer, data path, index) -> Channel
        self.first = self.last = frame
        self.skipped = set()  # paths that cannot be keyed (told once)
        self.clock = takeclock.FrameClock(fps)  # when its frames changed
        self.clock.changed(frame, now)


class Recorder:
    """Record state and the current take. broadcast(obj) sends to every client;
    before_take() pushes the undo steps still pending, so the take is one step
    of its own; log(msg) reports. playing() may be replaced (bpy without a
    window has no playback: the tests step frames by hand)."""

    def __init__(self, broadcast, before_take, log):
        self.broadcast, self.before_take, self.log = broadcast, before_take, log
        self.on = False
        self.take = None
        self.last_take = None  # summary of the last finished take (panel, "take" event)
        self.error = ""
        self.playing = playing
        self.now = time.perf_counter  # Command.t's clock (server.py)
        self._pending = {}  # this drain's written targets: (struct pointer, prop, key, index) -> (Target, received)

    # ------------------------------------------------------------ state
    def greeting(self):
        """What a client is told right after its hello (the socket thread calls it)."""
        return [{"ev": "record", "on": True}] if self.on else []

    def set(self, on):
        """Recording on or off (the record op, the panel). Tells every client when it changed."""
        on = bool(on)
        if on == self.on:
            return
        self.on = on
        self.sync()
        self.broadcast({"ev": "record", "on": on})

    def sync(self):
        """Starts or ends the take as recording and playback say."""
        active = self.on and self.playing()
        if active and self.take is None:
            self.before_take()
            scene = bpy.context.scene
            self.take = Take(scene.frame_current, scene.render.fps / scene.render.fps_base, self.now())
        elif not active and self.take is not None:
            self._key_pending()
            self.finish()

    # ------------------------------------------------------------ the drain
    def begin_drain(self):
        """The drain starts: nothing of an earlier drain is kept (its targets are
        stale), and the take starts or ends as recording and playback say."""
        self._pending = {}
        self.sync()

    def frame_changed(self, scene):
        """frame_change_pre: when the take's frames began (the drain that sees the
        new frame runs after Blender's redraw)."""
        if self.take is not None:
            self.take.clock.changed(scene.frame_current, self.now())

    def note(self, targets, received=0.0):
        """Targets a set/add just wrote (each resolved element), its line received
        at time received (Command.t; 0: now). Returns whether they are recorded (a
        take is running): their undo step is then the take's."""
        if self.take is None:
            return False
        received = received or self.now()
        for t in targets:
            why = ("holds no number or bool" if t.kind not in NUMERIC else
                   "is not animatable" if not _animatable(t) else None)
            if why is not None:
                if t.path not in self.take.skipped:
                    self.take.skipped.add(t.path)
                    self._tell(f"record: {t.path} {why}; not keyed")
                continue
            self._pending[(t.struct.as_pointer(), t.prop, t.key, t.index)] = (t, received)
        return True

    def end_drain(self):
        """Keys what this drain wrote, at the current frame (the drain calls it last)."""
        self.sync()
        self._key_pending()

    def _key_pending(self):
        pending, self._pending = self._pending, {}
        take = self.take
        if take is None or not pending:
            return
        frame = bpy.context.scene.frame_current
        take.first, take.last = min(take.first, frame), max(take.last, frame)
        for t, received in pending.values():
            try:
                apply.keyframe(t)
                self._sample(take, t, frame, received)
            except (ProtocolError, ReferenceError, RuntimeError, TypeError, KeyError) as e:
                if t.path not in take.skipped:
                    take.skipped.add(t.path)
                    self._tell(f"record: {t.path}: {getattr(e, 'message', e)}")

    def _sample(self, take, t, frame, received):
        ident = t.struct.id_data
        base = t.struct.path_from_id() if t.struct != ident else ""
        leaf = t.prop if t.key is None else f"[{protocol.quote(t.key)}]"
        data_path = f"{base}.{leaf}" if base and t.key is None else base + leaf
        value = apply.read(t)
        indices = [t.index] if t.index is not None else list(range(t.length)) if t.length else [0]
        for i in indices:
            key = (ident.as_pointer(), data_path, i)
            ch = take.channels.get(key)
            if ch is None:
                ch = take.channels[key] = Channel(_id_key(ident), data_path, i, t.path, t.kind == "FLOAT")
            v = float(value[i] if isinstance(value, list) else value)
            ch.values.add(received, v)
            ch.samples[frame] = (v, ch.values.t[-1], take.clock.run)

    # ------------------------------------------------------------ the end of a take
    def finish(self):
        """Thins the take's keys, makes it one undo step and tells the clients."""
        take, self.take = self.take, None
        recorded = kept = 0
        for ch in take.channels.values():
            try:
                r, k = self._thin(ch, take.clock)
            except (ReferenceError, RuntimeError, KeyError, TypeError, AttributeError) as e:
                self._tell(f"record: could not thin {ch.text}: {e}")
                r = k = len(ch.samples)
            recorded += r
            kept += k
        self.last_take = {"ev": "take", "channels": len(take.channels), "recorded": recorded, "keys": kept,
                          "frames": [take.first, take.last]}
        if take.channels:
            try:
                apply.undo_push(f"KnobLink: record take ({kept} keys on {len(take.channels)} channels)")
            except ProtocolError as e:
                self._tell(e.message)
        self.broadcast(self.last_take)

    def _thin(self, ch, clock):
        """Sets one channel's take keys to their recorded values and thins them;
        returns (keys recorded, keys kept)."""
        fcurve = _fcurve(ch)
        if fcurve is None:
            raise KeyError(f"no F-curve {ch.data_path}[{ch.index}] any more")
        recorded = ch.recorded(clock)
        frames = sorted(recorded)
        values = [recorded[f] for f in frames]
        points = fcurve.keyframe_points
        if ch.smooth:
            for f, v in zip(frames, values):  # replaces the newest value keyed there
                points.insert(f, v, options={"FAST"})
        present = set(frames)

        def evaluate(kept):
            keep = {frames[i] for i in kept}
            gone = present - keep
            if gone:  # remove from the highest index down: lower ones stay valid
                for i in range(len(points) - 1, -1, -1):
                    f = round(points[i].co[0])
                    if f in gone and abs(points[i].co[0] - f) < 1e-3:
                        points.remove(points[i], fast=True)
            for f in keep - present:
                points.insert(f, recorded[f], options={"FAST"})
            present.clear()
            present.update(keep)
            fcurve.update()
            return [fcurve.evaluate(f) for f in frames]

        kept = thinning.reduce(values, thinning.tolerance(values), evaluate)
        return len(frames), len(kept)

    def _tell(self, msg):
        self.error = msg
        self.log(msg)


# ---------------------------------------------------------------- finding things again

_animatable_cache = {}
_collections = {}  # RNA identifier of an ID type -> bpy.data collection name


def _animatable(t):
    if t.key is not None:
        return True  # a numeric custom property
    key = (type(t.struct), t.prop)
    hit = _animatable_cache.get(key)
    if hit is None:
        rna = t.struct.bl_rna.properties.get(t.prop)
        hit = _animatable_cache[key] = bool(rna is not None and rna.is_animatable)
    return hit


def _collection_of(ident):
    rna = ident.bl_rna
    while rna is not None:
        name = _collections.get(rna.identifier)
        if name is None:
            for p in bpy.data.bl_rna.properties:
                if p.type == "COLLECTION" and p.fixed_type is not None and p.fixed_type.identifier == rna.identifier:
                    name = _collections[rna.identifier] = p.identifier
                    break
        if name is not None:
            return name
        rna = rna.base
    return None


def _id_key(ident):
    """How to find ident in bpy.data again: (collection, name, library path, attribute
    of the owner for an embedded ID such as a material's node tree, or None)."""
    lib = ident.library.filepath if ident.library is not None else None
    if not getattr(ident, "is_embedded_data", False):
        return (_collection_of(ident), ident.name, lib, None)
    for coll in ("materials", "worlds", "lights", "scenes", "textures", "linestyles"):
        for owner in getattr(bpy.data, coll, ()):
            if getattr(owner, "node_tree", None) == ident:
                lib = owner.library.filepath if owner.library is not None else None
                return (coll, owner.name, lib, "node_tree")
    return (None, ident.name, lib, None)


def _find_id(id_key):
    coll, name, lib, attr = id_key
    if coll is None:
        return None
    owner = getattr(bpy.data, coll).get((name, lib) if lib is not None else name)
    if owner is None:
        return None
    return getattr(owner, attr) if attr else owner


def _fcurve(ch):
    """The channel's F-curve in its ID's action (Blender 3.4's action.fcurves, or
    the 4.4+ slotted action's channel bag), or None."""
    ident = _find_id(ch.id_key)
    anim = getattr(ident, "animation_data", None)
    action = anim.action if anim is not None else None
    if action is None:
        return None
    if getattr(action, "layers", None):
        from bpy_extras import anim_utils
        bag = anim_utils.action_get_channelbag_for_slot(action, anim.action_slot)
        return bag.fcurves.find(ch.data_path, index=ch.index) if bag is not None else None
    return action.fcurves.find(ch.data_path, index=ch.index)


# ---------------------------------------------------------------- the panel

class KNOBLINK_OT_record_toggle(bpy.types.Operator):
    """Record knob moves into keyframes while the timeline plays (KnobLink)"""
    bl_idname = "knoblink.record_toggle"
    bl_label = "Record"

    def execute(self, _context):
        from . import link  # late: link imports this module
        running = link.running()
        if running is None:
            self.report({"ERROR"}, "KnobLink is not running")
            return {"CANCELLED"}
        running.recorder.set(not running.recorder.on)
        return {"FINISHED"}


def draw(layout, _context):
    """The Record toggle and the last take, for the KnobLink panel."""
    from . import link
    running = link.running()
    rec = running.recorder if running is not None else None
    on = rec is not None and rec.on
    row = layout.row()
    row.operator(KNOBLINK_OT_record_toggle.bl_idname, text="Recording" if on else "Record", icon="REC", depress=on)
    if rec is None:
        return
    if rec.take is not None:
        layout.label(text=f"Take: {len(rec.take.channels)} channels, frames {rec.take.first}-{rec.take.last}")
    elif on:
        layout.label(text="Recording starts when the timeline plays")
    if rec.last_take is not None:
        t = rec.last_take
        layout.label(text=f"Last take: {t['keys']} of {t['recorded']} keys kept on {t['channels']} channels")
