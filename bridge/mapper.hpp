// Events -> commands (docs/mapping.md): a pure function of (config, state, event, time).
// No I/O and no clock: events carry their time, and what is due later (a long press, a
// stick held deflected) is asked for with next_tick() and done by tick(now). The transfer
// math is bridge/transfer.hpp.
#pragma once

#include <array>
#include <cstdint>
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

/// Where the mapper sets outputs it drives itself (a layer's LED).
using OutputFn = std::function<void(const OutputWrite&)>;

class Mapper {
 public:
  /// How often a deflected rate control sends its add (docs/mapping.md, "rate").
  static constexpr std::int64_t kRatePeriodUs = 1'000'000 / 60;

  /// Interns every path, operator, enum name and argument list of cfg into targets.
  /// cfg must outlive the mapper. outputs receives layer LEDs (may be empty).
  Mapper(const Config& cfg, TargetTable& targets, OutputFn outputs = {});

  /// Maps one event; pushes zero or more commands, each with the event's t_us. Returns false
  /// when no mapping or layer uses the control.
  bool on_event(const ControlEvent& event, CommandSink& out);
  /// Where a control is, from a device's first snapshot (docs/devices.md, "Where the
  /// controls are"): set mappings learn the knob's position (takeover: pickup knows which
  /// side of Blender's value it is on, a deadband starts from it); nothing is sent.
  void on_position(const ControlEvent& event);
  /// Does what is due at now_us (long presses, rate controls); call it at next_tick().
  void tick(std::int64_t now_us, CommandSink& out);
  /// When tick() is due next (the events' clock, microseconds), or nullopt when nothing is
  /// pending: no button held with a long action, no rate control deflected.
  std::optional<std::int64_t> next_tick() const;
  /// A device described a control: its range becomes the default input range of set and
  /// rate mappings. Returns a warning for the user when a set uses a control described as rel or btn.
  std::string on_control(std::uint16_t device, const ControlInfo& info);
  /// The device (re)connected: forget the last values so the next one is sent even if
  /// unchanged, and set its layer LEDs again.
  void on_reconnect(std::uint16_t device);
  /// A watched value arrived (nullopt: the path does not resolve now); calls write for each
  /// output that follows it, and lets takeover: pickup mappings notice a change made in Blender.
  void on_watched_value(std::uint32_t target, std::optional<double> value, const OutputFn& write);
  /// Targets to watch for feedback (unique).
  const std::vector<std::uint32_t>& watched() const { return watched_; }
  /// Whether target receives absolute sets (and is resent after a reconnect).
  bool is_absolute(std::uint32_t target) const;
  /// Whether layer i is on.
  bool layer_on(std::size_t i) const { return i < layer_on_.size() && layer_on_[i]; }
  /// Counts every time a layer went on or off (the status compares it; docs/protocol.md).
  std::uint64_t layer_changes() const { return layer_changes_; }
  /// Recording in Blender is on or off (the add-on said so: docs/protocol.md, "Record"); the
  /// record: LED follows.
  void on_record_state(bool on);
  /// Whether recording is on, as far as the mapper knows (its own presses and the add-on's word).
  bool recording() const { return recording_; }

 private:
  /// A button action as the commands it sends: one, or one per value for cycle.
  struct Compiled {
    std::vector<Command> commands;
    std::size_t next = 0;  ///< cycle: the value the next press sends
  };
  struct Slot {
    const Mapping* mapping = nullptr;
    std::uint32_t target = 0;  ///< set/add/rate path
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
    // add: accel
    std::int64_t last_detent_us = 0;
    bool has_detent = false;
    // rate
    double deflection = 0;       ///< -1..1 after the deadzone; 0 = at rest
    std::int64_t integrated_us = 0;  ///< the time up to which the deflection was sent
    // press / release / long
    Compiled press, release, long_press;
    bool held = false, long_fired = false;
    std::int64_t pressed_us = 0;
  };
  struct Binding {
    std::uint16_t device;
    Name control;
    std::uint32_t slot;
    int layer;
    bool contested;  ///< the control has mappings in a layer: they change hands with the layers
  };
  struct Switch {
    std::uint16_t device;
    Name control;
    std::size_t layer;
  };

  Compiled compile(const Action& a, TargetTable& targets);
  void fire(Compiled& c, CommandSink& out);
  void on_slot_event(Slot& s, const ControlEvent& e, CommandSink& out);
  /// A layer switch moved; true when it was one.
  bool on_switch(const ControlEvent& e);
  /// The record: switch moved; true when it was it. A press sends the record op.
  bool on_record_switch(const ControlEvent& e, CommandSink& out);
  /// Sets the record: LED to the record state.
  void show_record();
  /// Turns a layer on or off (and its LED); true when that changed it.
  bool set_layer(std::size_t layer, bool on);
  /// Sends a rate slot's deflection for the time up to now_us.
  void integrate(Slot& s, std::int64_t now_us, CommandSink& out);
  /// What a set mapping makes of raw: input range -> curve -> `to`.
  static double set_value(const Slot& s, const SetMapping& set, std::int32_t raw);
  /// takeover: pickup: whether v may be sent now (it is, or has passed, Blender's value).
  static bool picked_up(Slot& s, const SetMapping& m, double v);

  const Config& cfg_;
  OutputFn outputs_;
  std::vector<Slot> slots_;
  std::vector<Binding> bindings_;
  std::vector<Switch> switches_;
  std::vector<bool> layer_on_;
  std::vector<std::uint32_t> watched_;
  std::vector<std::pair<std::uint32_t, OutputWrite>> leds_;  ///< watched target -> output
  std::vector<bool> absolute_;
  std::size_t held_ = 0;       ///< slots held with a long action not yet fired
  std::size_t deflected_ = 0;  ///< rate slots deflected
  std::int64_t next_rate_us_ = 0;
  std::uint64_t layer_changes_ = 0;
  bool recording_ = false;
};

}  // namespace knoblink
