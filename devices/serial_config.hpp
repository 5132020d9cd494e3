// How the mapping file's `serial:` names a device (docs/mapping.md, Devices). The
// config parser fills it; SerialSource uses it as it is.
#pragma once

#include <string>

namespace knoblink {

/// A serial device: by path, by USB match, or the first port whose device says hello.
struct SerialConfig {
  std::string port = "auto";  ///< "auto" or a path such as /dev/ttyACM0
  std::string match;          ///< "VID:PID[:serial]", hex; with port auto, only matching ports are tried
  int baud = 115200;
  std::string uid;            ///< hex; with port auto, only a device whose hello says this uid is taken
  friend bool operator==(const SerialConfig&, const SerialConfig&) = default;
};

}  // namespace knoblink
