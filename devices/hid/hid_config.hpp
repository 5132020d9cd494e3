// How the mapping file's `hid:` names a device (docs/hid.md). Header only: the config
// parser reads it in every build, with or without HID support.
#pragma once

#include <string>

namespace knoblink {

/// A USB HID device chosen by "VID:PID[:serial]".
struct HidConfig {
  std::string match;
  friend bool operator==(const HidConfig&, const HidConfig&) = default;
};

}  // namespace knoblink
