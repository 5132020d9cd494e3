// Where device backends (serial, HID) deliver what they read. The bridge
// implements it; tests implement it with a recorder.
#pragma once

#include <cstdint>
#include <string_view>

#include "devices/control_event.hpp"

namespace knoblink {

/// How much a notice matters to the user.
enum class Severity : std::uint8_t { debug, info, warning, error };

/// Receives everything a device backend produces. Called on the bridge's event-loop thread.
class EventSink {
 public:
  virtual ~EventSink() = default;
  /// A control changed.
  virtual void on_event(const ControlEvent& event) = 0;
  /// Something to tell the user, naming the device (port, what was attempted).
  virtual void on_notice(std::uint16_t device, Severity severity, std::string_view text) = 0;
  /// The device is open (connected=true) or gone (false, e.g. unplugged).
  virtual void on_connection(std::uint16_t device, bool connected) = 0;
  /// The device described a control (hello/@ctl, or a parsed HID descriptor).
  virtual void on_control(std::uint16_t device, const ControlInfo& info) = 0;
  /// Input that could not be decoded (a bad line, a malformed report) was skipped.
  /// what names the problem and shows the bytes; the default counts nothing.
  virtual void on_malformed(std::uint16_t device, std::string_view what) {
    on_notice(device, Severity::warning, what);
  }
};

}  // namespace knoblink
