// Rotary encoder quadrature decoder, small enough for a pin-change interrupt.
// Feed it the two pin levels on every change; it counts quarter steps through
// a transition table (bounce on one contact cancels itself, an impossible
// jump of both pins counts nothing) and reports whole detents when the
// encoder is back at rest (both pins high with INPUT_PULLUP), so a missed
// edge never leaves the count misaligned.
//
// Clockwise (+1): A falls first: AB = 11 -> 01 -> 00 -> 10 -> 11.
#ifndef KNOBBOX_QUADRATURE_H
#define KNOBBOX_QUADRATURE_H

#include <stdint.h>

namespace knobbox {

class QuadratureDecoder {
 public:
  /// Quarter steps from one detent to the next (4 for the common EC11 type).
  static const int8_t kQuartersPerDetent = 4;
  /// Pin levels at a detent: A and B both high (pulled up, contacts open).
  static const uint8_t kRest = 3;

  QuadratureDecoder() : state_(kRest), quarters_(0) {}

  /// Starts from the current pin levels, e.g. read in setup().
  void reset(bool a, bool b) {
    state_ = static_cast<uint8_t>((a ? 2 : 0) | (b ? 1 : 0));
    quarters_ = 0;
  }

  /// Feeds the current levels of pins A and B; returns the detents completed
  /// by this change (0 while between detents, +1 clockwise, -1 counter-clockwise).
  int8_t update(bool a, bool b) {
    static const int8_t kTable[16] = {0, -1, 1, 0, 1, 0, 0, -1, -1, 0, 0, 1, 0, 1, -1, 0};
    const uint8_t ab = static_cast<uint8_t>((a ? 2 : 0) | (b ? 1 : 0));
    quarters_ = static_cast<int8_t>(quarters_ + kTable[(state_ << 2) | ab]);
    state_ = ab;
    if (ab != kRest) return 0;
    // Back at a detent: the count is a multiple of 4, or off by 2 after an
    // edge was missed; round that case in the direction of travel.
    const int8_t q = quarters_;
    quarters_ = 0;
    return static_cast<int8_t>((q + (q > 0 ? 2 : -2)) / kQuartersPerDetent);
  }

 private:
  uint8_t state_;
  int8_t quarters_;
};

}  // namespace knobbox

#endif  // KNOBBOX_QUADRATURE_H
