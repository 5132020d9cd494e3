// The one interface every device kind implements (docs/devices.md): the bridge starts
// and stops a source, writes its outputs and asks what it is; what it reads arrives
// through the EventSink it was made with. bridge/devices.cpp makes one per device of
// the mapping file.
#pragma once

#include <cstdint>
#include <string>

#include "devices/control_event.hpp"

namespace knoblink {

/// What a device is, for messages, `knoblink list`, status.
struct DeviceDescription {
  std::string kind;      ///< the key in the mapping file: "serial", "hid"
  std::string label;     ///< the device's name in the mapping file ("box")
  std::string attached;  ///< what it is attached to: a port path, a hidraw node; empty when not connected
  std::string state;     ///< "connected", "probing /dev/ttyUSB0", "waiting: <why>", "stopped"
  /// What its decoder counted, "name=N ..." ("messages=120 sysex=1 skipped=3"); may be empty.
  std::string counters;
};

/// The outcome of writing an output: ok, or why it was not written.
struct OutputResult {
  std::string error;  ///< empty when written (or queued for writing)
  /// Not written because the device is not there now (unplugged, not found yet, no OSC
  /// sender yet): the bridge keeps the value and writes it when the device (re)opens.
  bool away = false;
  bool ok() const { return error.empty(); }
};

class DeviceSource {
 public:
  virtual ~DeviceSource() = default;
  /// Starts reading (and keeps reopening the device when it goes away), in the background.
  virtual void start() = 0;
  /// Stops reading and closes the device; after stop() the source is only destroyed.
  virtual void stop() = 0;
  /// Sets an output control (an LED, a motor fader) to value. Never drops silently: the
  /// result says why a value was not written (not connected: away, no such output, write
  /// error). The bridge writes its outputs again after on_connection(true).
  virtual OutputResult write_output(const Name& control, std::int32_t value) = 0;
  /// What the device is and where it is attached now.
  virtual DeviceDescription describe() const = 0;
};

}  // namespace knoblink
