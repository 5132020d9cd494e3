// Potentiometer filter with hysteresis: a pot that keeps turning the same way
// reports every `step` counts; turning back needs `reverse` counts, which is
// more than the ADC's peak-to-peak noise, so a resting pot goes quiet. A pot
// turning towards an end (0 or max) always reaches it exactly.
#ifndef KNOBBOX_POT_FILTER_H
#define KNOBBOX_POT_FILTER_H

#include <stdint.h>

namespace knobbox {

class PotFilter {
 public:
  /// step: change needed to keep going the same way; reverse: to turn back.
  explicit PotFilter(uint16_t max = 1023, uint8_t step = 2, uint8_t reverse = 6)
      : max_(max), step_(step), reverse_(reverse), value_(0), dir_(0) {}

  /// Starts at a raw reading without reporting it.
  void reset(uint16_t raw) {
    value_ = raw;
    dir_ = 0;
  }

  /// Feeds a raw reading; returns true when value() changed and should be sent.
  bool update(uint16_t raw) {
    if (raw == value_) return false;
    const int8_t dir = raw > value_ ? 1 : -1;
    const uint16_t delta = dir > 0 ? raw - value_ : value_ - raw;
    const bool onward = dir == dir_;
    const bool reaches_end = onward && (raw == 0 || raw == max_);
    if (!reaches_end && delta < (onward ? step_ : reverse_)) return false;
    value_ = raw;
    dir_ = dir;
    return true;
  }

  /// The last reported value.
  uint16_t value() const { return value_; }

 private:
  uint16_t max_;
  uint8_t step_;
  uint8_t reverse_;
  uint16_t value_;
  int8_t dir_;
};

}  // namespace knobbox

#endif  // KNOBBOX_POT_FILTER_H
