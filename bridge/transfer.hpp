// The transfer math of a set mapping (docs/mapping.md, "set"), as pure steps in a fixed
// order: raw -> clamp to from -> 0..1 -> to. Curves slot in between (unit -> unit).
#pragma once

#include <algorithm>
#include <cmath>

namespace knoblink::transfer {

/// raw over [from0, from1] as 0..1, clamped; a reversed range (from0 > from1) inverts.
inline double normalize(double raw, double from0, double from1) {
  return std::clamp((raw - from0) / (from1 - from0), 0.0, 1.0);
}

/// A unit value 0..1 onto [to0, to1] (a reversed range inverts).
inline double denormalize(double unit, double to0, double to1) { return to0 + unit * (to1 - to0); }

/// Values of a target closer than this are the same value (Blender stores floats in 32 bits).
inline double tolerance(double to0, double to1) { return std::max(1e-6, 1e-4 * std::abs(to1 - to0)); }

}  // namespace knoblink::transfer
