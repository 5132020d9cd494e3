// What the bridge remembers of each device while it comes and goes, for every kind
// alike (docs/devices.md, "Replug"): the last value of each input, to tell a snapshot
// (where a control is) from a movement made while the device was away; and the latest
// value of each output, written again whenever the device (re)opens or describes it.
// Pure: no I/O. Allocates only when a control is seen for the first time.
#pragma once

#include <cstdint>
#include <vector>

#include "devices/control_event.hpp"

namespace knoblink {

class DeviceMemory {
 public:
  /// What the bridge does with an input event.
  enum class Input : std::uint8_t {
    map,     ///< a movement: map it
    inform,  ///< the first value ever known of a control, from a snapshot: a position, nothing is sent
    skip,    ///< a snapshot value equal to the last known one: the control did not move while away
  };
  /// An output's value and whether the device has it now.
  struct Output {
    Name control;
    std::int32_t value = 0;
    bool written = false;  ///< written since the device last (re)opened
  };

  /// Remembers e's value (relative deltas are no position and are not kept) and says what to do with it.
  Input on_input(const ControlEvent& e);
  /// The latest value set on an output; false when the device already has exactly it
  /// (nothing to write).
  bool set_output(std::uint16_t device, const Name& control, std::int32_t value);
  /// The output was written to the device (or not, when it was away).
  void output_written(std::uint16_t device, const Name& control, bool written);
  /// The device (re)opened or went away: none of its outputs is on it now.
  void forget_written(std::uint16_t device);
  /// The device described an output (after its own reboot it is off): not on it now.
  void forget_written(std::uint16_t device, const Name& control);
  /// Every output of device with its latest value.
  const std::vector<Output>& outputs(std::uint16_t device) const;
  /// Forgets everything (the mapping names other devices now).
  void clear() { devices_.clear(); }

 private:
  struct Known {
    Name control;
    std::int32_t value;
  };
  struct Device {
    std::vector<Known> inputs;
    std::vector<Output> outputs;
  };
  Device& device(std::uint16_t d);
  Output* find_output(std::uint16_t device, const Name& control);

  std::vector<Device> devices_;
};

}  // namespace knoblink
