// How the mapping file's `osc:` names an OSC device and its controls (docs/osc.md). Header
// only: the config parser reads it in every build, with or without OSC support.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "devices/control_event.hpp"

namespace knoblink {

/// One OSC address as a control: its float argument over [lo, hi] becomes 0..16383 (abs),
/// or 1 at or above the middle of the range and 0 below it (btn).
struct OscControl {
  std::string name;     ///< the control name in mappings ("fader1")
  std::string address;  ///< the OSC address ("/1/fader1")
  double lo = 0, hi = 1;
  ControlKind kind = ControlKind::abs;  ///< abs or btn
  friend bool operator==(const OscControl&, const OscControl&) = default;
};

/// A UDP port that OSC senders (TouchOSC, Open Stage Control) send to.
struct OscConfig {
  std::string host = "127.0.0.1";  ///< where to listen: loopback unless the file says otherwise
  std::uint16_t port = 0;
  std::vector<OscControl> controls;
  friend bool operator==(const OscConfig&, const OscConfig&) = default;
};

/// The steps an abs OSC control's range is read into (its described range is 0..kOscSteps).
constexpr std::int32_t kOscSteps = 16383;

}  // namespace knoblink
