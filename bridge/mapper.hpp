// Events -> commands (docs/mapping.md): a pure function of (config, state, event). No I/O,
// no clock. The transfer math is bridge/transfer.hpp.
#pragma once

#include <cstdint>
#include <array>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "bridge/command.hpp"
#include "bridge/config.hpp"
#include "devices/event_sink.hpp"

namespace knoblink {

/// An output to set on a device (an LED line "l2 1").
struct OutputWrite {
  std::uint16_t device = 0;
  Name control;
  std::int32_t value = 0;
};

class Mapper {
 public:
  /// Interns every path and operator of cfg into targets. cfg must outlive the mapper.
  Mapper(const Config& cfg, TargetTable& targets);

  /// Maps one event; pushes zero or more commands. Returns false when no mapping uses the control.
  bool on_event(const ControlEvent& event, CommandSink& out);
  /// A device described a control: its range becomes the default input range of set mappings.
  /// Returns a warning for the user when a set mapping uses a control described as rel or btn.
  std::string on_control(std::uint16_t device, const ControlInfo& info);
  /// The device reconnected: forget the last values so the next one is sent even if unchanged.
  void on_reconnect(std::uint16_t device);
  /// A watched value arrived (nullopt: the path does not resolve now); calls write for each
  /// output that follows it, and lets takeover: pickup mappings notice a change made in Blender.
  void on_watched_value(std::uint32_t target, std::optional<double> value,
                        const std::function<void(const OutputWrite&)>& write);
  /// Targets to watch for feedback (unique).
  const std::vector<std::uint32_t>& watched() const { return watched_; }
  /// Whether target receives absolute sets (and is resent after a reconnect).
  bool is_absolute(std::uint32_t target) const;

 private:
  struct Slot {
    const Mapping* mapping = nullptr;
    std::uint32_t target = 0;          ///< set/add path
    std::uint32_t press = 0, release = 0;  ///< button action targets
    double from0 = 0, from1 = 1023;
    std::int32_t last_raw = 0;
    bool has_last = false;
    // takeover: pickup
    double knob = 0;             ///< the knob's last mapped value, sent or not
    bool has_knob = false;
    bool engaged = true;         ///< the knob drives the value (false: waiting to pass it)
    double blender = 0;          ///< the value Blender last reported
    bool has_blender = false;
    std::array<double, 16> sent{};  ///< recently sent values: their echoes are not changes
    std::uint32_t sent_count = 0;
  };
  struct Binding {
    std::uint16_t device;
    Name control;
    std::uint32_t slot;
  };
  void act(const Action& a, std::uint32_t target, CommandSink& out);
  /// takeover: pickup: whether v may be sent now (it is, or has passed, Blender's value).
  static bool picked_up(Slot& s, const SetMapping& m, double v);

  const Config& cfg_;

  std::vector<Slot> slots_;
  std::vector<Binding> bindings_;
  std::vector<std::uint32_t> watched_;
  std::vector<std::pair<std::uint32_t, OutputWrite>> leds_;  ///< watched target -> output
  std::vector<bool> absolute_;
};

}  // namespace knoblink
