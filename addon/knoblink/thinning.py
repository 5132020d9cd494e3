"""Thinning a recorded take (docs/protocol.md, "Record"): which of the keys a
take wrote to one F-curve can go while the curve stays within a tolerance of
every recorded value. No bpy: the curve is evaluated through a callback, so
Blender's own F-curve evaluation (record.py) and a plain one (the tests) both
drive the same reduction.

The reduction is Douglas-Peucker-like, refined globally because a Bezier
key's handles depend on its neighbours: start with the first and the last
key, evaluate the curve at every recorded frame, and in every span between
two kept keys whose worst sample is out of tolerance keep that sample's key;
repeat until no span is. It ends: each round keeps at least one more key, and
a curve through every sample is exact at every sample."""

FRACTION = 0.01  # of the recorded value range (Contract 2 record)


def tolerance(values, fraction=FRACTION):
    """How far the thinned curve may be from a recorded value: fraction of the
    values' range, and never less than float32's rounding of the largest (F-curve
    keys are stored as float32)."""
    lo, hi = min(values), max(values)
    scale = max(abs(lo), abs(hi), 1.0)
    return max((hi - lo) * fraction, scale * 1e-6)


def reduce(values, tol, evaluate):
    """Indices of the samples whose keys stay, ascending.

    values: the recorded value per sample, in frame order (one per frame);
    tol: the allowed distance; evaluate(kept): the curve's value at every
    sample when only the keys of the kept indices (ascending) remain of the
    take's keys; it may set the curve up that way, and the last call it gets
    is with the returned indices."""
    n = len(values)
    if n <= 2:
        kept = list(range(n))
        evaluate(kept)
        return kept
    kept = [0, n - 1]
    while True:
        curve = evaluate(kept)
        more = []
        for a, b in zip(kept, kept[1:]):
            worst, at = tol, -1
            for i in range(a + 1, b):
                err = abs(curve[i] - values[i])
                if err > worst:
                    worst, at = err, i
            if at >= 0:
                more.append(at)
        if not more:
            return kept
        kept = sorted(kept + more)


def linear(frames, values):
    """An evaluate() for reduce() over a piecewise linear curve through the kept
    samples (constant outside them): the plain model, for tests and as a reference."""
    def evaluate(kept):
        out = []
        j = 0
        for f in frames:
            while j + 1 < len(kept) and frames[kept[j + 1]] <= f:
                j += 1
            a = kept[j]
            if j + 1 >= len(kept) or f <= frames[a]:
                out.append(values[a])
                continue
            b = kept[j + 1]
            t = (f - frames[a]) / (frames[b] - frames[a])
            out.append(values[a] + t * (values[b] - values[a]))
        return out
    return evaluate
