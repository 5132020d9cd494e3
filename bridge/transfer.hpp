// The transfer math of the mappings (docs/mapping.md), as pure steps in a fixed order:
// set: raw -> clamp to from -> 0..1 -> curve -> to; add: delta x step x acceleration;
// rate: deflection -> deadzone -> speed. No state, no clock: callers pass what they know.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

namespace knoblink::transfer {

/// A response curve on unit values (0..1 -> 0..1).
struct Curve {
  enum class Kind : std::uint8_t { linear, smooth, power, points };
  Kind kind = Kind::linear;
  double power = 1;                               ///< power: x^p
  std::vector<std::pair<double, double>> points;  ///< points: (x, y), x rising, piecewise linear
  friend bool operator==(const Curve&, const Curve&) = default;
};

/// raw over [from0, from1] as 0..1, clamped; a reversed range (from0 > from1) inverts.
inline double normalize(double raw, double from0, double from1) {
  return std::clamp((raw - from0) / (from1 - from0), 0.0, 1.0);
}

/// A unit value through a curve.
inline double curve(const Curve& c, double x) {
  switch (c.kind) {
    case Curve::Kind::linear: return x;
    case Curve::Kind::smooth: return x * x * (3 - 2 * x);
    case Curve::Kind::power: return std::pow(x, c.power);
    case Curve::Kind::points: {
      const auto& p = c.points;
      if (x <= p.front().first) return p.front().second;
      for (std::size_t i = 1; i < p.size(); ++i)
        if (x <= p[i].first) {
          const double span = p[i].first - p[i - 1].first;
          const double f = span > 0 ? (x - p[i - 1].first) / span : 1;
          return p[i - 1].second + f * (p[i].second - p[i - 1].second);
        }
      return p.back().second;
    }
  }
  return x;
}

/// A unit value 0..1 onto [to0, to1] (a reversed range inverts).
inline double denormalize(double unit, double to0, double to1) { return to0 + unit * (to1 - to0); }

/// Values of a target closer than this are the same value (Blender stores floats in 32 bits).
inline double tolerance(double to0, double to1) { return std::max(1e-6, 1e-4 * std::abs(to1 - to0)); }

/// Encoder acceleration: the step multiplier for a detent that came `gap_us` after the
/// previous one. Detents 200 ms apart or more (or the first) count 1; faster ones scale
/// smoothly (linearly in the gap) up to `max` at 10 ms apart or less.
inline double acceleration(double max, std::int64_t gap_us) {
  constexpr std::int64_t slow = 200'000, fast = 10'000;
  if (max <= 1 || gap_us < 0 || gap_us >= slow) return 1;
  const double f = static_cast<double>(slow - std::max(gap_us, fast)) / static_cast<double>(slow - fast);
  return 1 + f * (max - 1);
}

/// A stick's deflection -1..1 from a unit position (0.5 = centre), with the deadzone (a
/// fraction of the half range around the centre) removed and the rest rescaled to 0..1.
inline double deflection(double unit, double deadzone) {
  const double d = std::clamp(unit * 2 - 1, -1.0, 1.0);
  const double a = std::abs(d);
  if (a <= deadzone) return 0;
  return std::copysign((a - deadzone) / (1 - deadzone), d);
}

}  // namespace knoblink::transfer
