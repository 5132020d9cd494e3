// Button debouncer: a new level counts once it has been stable for the whole
// interval (like Bounce2's stable mode), so contact bounce and short glitches
// never reach the host. Pure: time is passed in, never read. Wrap-safe: only
// the difference of two millis() values is used.
#ifndef KNOBBOX_DEBOUNCER_H
#define KNOBBOX_DEBOUNCER_H

#include <stdint.h>

namespace knobbox {

class Debouncer {
 public:
  /// interval_ms: how long a new level must hold before it counts.
  explicit Debouncer(uint8_t interval_ms = 5)
      : interval_(interval_ms), state_(false), candidate_(false), since_(0) {}

  /// Starts at a known level without reporting it.
  void reset(bool level, uint32_t now_ms) {
    state_ = candidate_ = level;
    since_ = now_ms;
  }

  /// Feeds the raw level; returns true when the debounced level changed.
  bool update(bool raw, uint32_t now_ms) {
    if (raw != candidate_) {
      candidate_ = raw;
      since_ = now_ms;
      return false;
    }
    if (raw != state_ && static_cast<uint32_t>(now_ms - since_) >= interval_) {
      state_ = raw;
      return true;
    }
    return false;
  }

  /// The debounced level.
  bool state() const { return state_; }

 private:
  uint8_t interval_;
  bool state_;
  bool candidate_;
  uint32_t since_;
};

}  // namespace knobbox

#endif  // KNOBBOX_DEBOUNCER_H
