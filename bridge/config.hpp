// The mapping file (docs/mapping.md), parsed and validated once into a
// checked structure. Every problem is reported as
// "file:line:col: what is wrong; what is allowed".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "bridge/transfer.hpp"
#include "devices/control_event.hpp"
#include "devices/hid/hid_config.hpp"
#include "devices/midi/midi_config.hpp"
#include "devices/osc/osc_config.hpp"
#include "devices/serial_config.hpp"

namespace knoblink {

/// Where the Blender add-on listens.
/// Where the Blender add-on listens (docs/mapping.md, "blender"). Without a port the
/// bridge finds Blender through the add-on's discovery files (bridge/discovery.hpp).
struct BlenderConfig {
  std::string host = "127.0.0.1";
  std::optional<std::uint16_t> port;  ///< none: the running Blender the discovery files name
  std::string token;  ///< sent in the hello; none: the discovery file's
  std::string file;   ///< with several Blenders running: the one whose open .blend contains this
  friend bool operator==(const BlenderConfig&, const BlenderConfig&) = default;
};

/// One device kind's settings: the key under the device (serial:, hid:, midi:, osc:). One
/// alternative per kind; bridge/devices.cpp makes the source for each.
using DeviceKindConfig = std::variant<SerialConfig, HidConfig, MidiConfig, OscConfig>;

struct DeviceConfig {
  std::string name;  ///< the key under devices:, e.g. "box"
  DeviceKindConfig kind;
  int line = 0;  ///< where it was declared (1-based), for messages
  /// The same device (name and how to find it; where it is written in the file does not matter).
  bool same_device(const DeviceConfig& o) const { return name == o.name && kind == o.kind; }
};

/// A control named in the file: "<device>.<control>".
struct ControlRef {
  std::uint16_t device = 0;  ///< index into Config::devices
  Name control;
};

/// A value a button sets: a number, or an enum item's name ("CYCLES").
struct Value {
  double number = 0;
  std::string name;  ///< non-empty: an enum name, sent as a JSON string
  friend bool operator==(const Value&, const Value&) = default;
};

/// What a button press, release or long press does.
struct Action {
  enum class Kind : std::uint8_t { none, call, keyframe, toggle, set, cycle };
  Kind kind = Kind::none;
  std::string target;         ///< data path, or the operator for call
  Value value;                ///< set
  std::vector<Value> values;  ///< cycle: the next one each press, wrapping
  std::string args;           ///< call: the operator's arguments as a JSON object text, or empty
};

/// set: a knob or fader drives a value. raw -> clamp to from -> 0..1 -> curve -> to
/// (bridge/transfer.hpp); reversed ranges invert.
struct SetMapping {
  std::string path;
  std::optional<double> from0, from1;  ///< raw input range; default: the device's described range, else 0..1023
  double to0 = 0, to1 = 1;
  transfer::Curve curve;
  std::int32_t deadband = 0;  ///< raw changes smaller than this are ignored
  /// takeover: pickup. After the value changed in Blender (the UI, undo), the knob does
  /// nothing until it passes the value, instead of making it jump.
  bool pickup = false;
};

/// add: an encoder's deltas, times step (times the acceleration for fast turns).
struct AddMapping {
  std::string path;
  double step = 1;
  double accel = 1;  ///< the largest multiplier of step for fast turns; 1 = none
  /// encoding: how a MIDI CC encoder encodes its turn (docs/midi.md, "Relative encoders").
  /// The parser also puts it into the device's MidiConfig::encodings, which the decoder reads.
  std::optional<MidiEncoding> encoding;
};

/// rate: a stick's deflection is a speed, integrated into adds while deflected.
struct RateMapping {
  std::string path;
  double speed = 1;       ///< units per second at full deflection
  double deadzone = 0.1;  ///< fraction of the half range around the centre that does nothing
  std::optional<double> from0, from1;  ///< raw range; default: the device's described range, else 0..1023
};

/// press/release: a button's actions; with long, a press held long_ms fires long instead.
struct ButtonMapping {
  Action press, release, long_press;
  std::int64_t long_ms = 500;
};

/// An output only (led: or watch: with no action): follows a watched value.
struct WatchMapping {};

/// One entry of mappings: (docs/mapping.md): the control, what it does (one kind, each
/// with its own keys), the layer it belongs to, and an optional LED that follows a
/// watched value.
struct Mapping {
  ControlRef control;
  std::variant<SetMapping, AddMapping, RateMapping, ButtonMapping, WatchMapping> action;
  int layer = -1;  ///< index into Config::layers; -1: the control's mapping when none of its layers is on
  /// feedback: an output control driven by the watched value of watch_path (value != 0 -> 1)
  std::optional<ControlRef> led;
  std::string watch_path;
  int line = 0;           ///< where its first key is in the text (1-based)
  std::size_t item = 0;   ///< its index in the mappings: list (bridge/mapping_edit.hpp cuts by it)
  /// Why this mapping is live but not in the file: a learn that could not be saved
  /// (docs/protocol.md, "Learn and forget"); empty for the file's own. Set by the bridge.
  std::string unsaved;

  template <class T>
  const T* as() const { return std::get_if<T>(&action); }
  /// The set/add/rate target, empty for the other kinds.
  const std::string& path() const;
  /// Whether its action writes path: the set/add/rate target, or a press/release/long
  /// toggle, keyframe, set or cycle target (what a forget of path removes).
  bool targets(std::string_view path) const;
};

/// A layer (docs/mapping.md, "Layers"): while it is on, a control's mappings with this
/// layer replace the control's mappings without one.
struct LayerConfig {
  std::string name;
  ControlRef control;  ///< the switch
  bool toggle = false; ///< false: on while held; true: a press flips it
  std::string group;   ///< toggle layers of one group: at most one is on
  std::optional<ControlRef> led;
  int line = 0;
};

/// record: (docs/mapping.md, "Recording"): a button that turns recording in Blender on and
/// off, and an LED lit while it is on.
struct RecordConfig {
  ControlRef toggle;  ///< a press flips recording
  std::optional<ControlRef> led;
  int line = 0;
};

struct Config {
  std::string file;
  std::string text;  ///< what file held when it was loaded (learn edits it: bridge/mapping_edit.hpp)
  BlenderConfig blender;
  std::vector<DeviceConfig> devices;
  std::vector<LayerConfig> layers;
  std::optional<RecordConfig> record;
  std::vector<Mapping> mappings;

  /// Index of a device by name, or -1.
  int device_index(std::string_view name) const;
  /// "box.k2": the control's device name and its own.
  std::string control_name(const ControlRef& c) const;
};

/// Result of loading: a config, or the list of problems (never both).
struct LoadResult {
  std::optional<Config> config;
  std::vector<std::string> errors;
};

/// Reads, parses and validates a mapping file.
LoadResult load_config_file(const std::string& path);
/// Parses and validates YAML text; file is used in messages only.
LoadResult load_config_text(const std::string& text, const std::string& file);

}  // namespace knoblink
